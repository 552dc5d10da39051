/* Built -no-pie against a libpt.so.1 with a 4-byte `origin`: the executable holds a copy
 * of it (R_X86_64_COPY, unversioned). */
#include <stdio.h>
extern int origin;
int pt_get(void);
int main(void) {
  printf("%d %d\n", origin, pt_get());
  return 0;
}
