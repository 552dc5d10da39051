/* Needs only libchain-a.so; libchain-b.so comes in as libchain-a.so's dependency. */
#include <stdio.h>
int a_call(void);
int main(void) {
  printf("%d\n", a_call());
  return 0;
}
