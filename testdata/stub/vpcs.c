/* libvpcs.so.1 (built with -DVPCS_LIB) and the program that calls it (without): an aarch64
 * function with the vector PCS (__attribute__((aarch64_vector_pcs)), gcc >= 9). GNU ld
 * marks its .dynsym entry STO_AARCH64_VARIANT_PCS, and a program that calls it through the
 * PLT gets DT_AARCH64_VARIANT_PCS (ld.so must then resolve that PLT entry eagerly: the
 * lazy resolver would clobber the vector registers the variant PCS preserves). A stub must
 * carry st_other so that a program linked against it gets the same tag.
 * test/stub/cross.test.ts builds both. */
#include <stdio.h>

__attribute__((aarch64_vector_pcs)) double vscale(double x, double y);

#ifdef VPCS_LIB
__attribute__((aarch64_vector_pcs)) double vscale(double x, double y) { return x * y + 1.0; }
#else
int main(void) {
  volatile double a = 6.0, b = 7.0;
  double r = vscale(a, b);
  printf("vscale=%g\n", r);
  return r == 43.0 ? 0 : 1;
}
#endif
