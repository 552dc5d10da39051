/* Asks for the old version explicitly: an undefined reference to foo@V1 (not the default
 * foo@@V2), as a program linked against an older libstubby.so.1 has. Also takes foo@@V2. */
#include <stdio.h>

int foo_old(void);
__asm__(".symver foo_old, foo@V1");
int foo(void);

int main(void) {
  printf("foo@V1=%d foo=%d\n", foo_old(), foo());
  return foo_old() == 1 && foo() == 2 ? 0 : 1;
}
