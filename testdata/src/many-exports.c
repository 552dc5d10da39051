/* A program that exports many functions with long names (link with -rdynamic): its
   .dynstr is several pages, as in large C++ programs. Used by the patch tests for the
   layouts that move or grow .dynstr. It looks one of its own exports up through the
   dynamic loader (hash table, .dynsym, .dynstr) and prints what it called. */
#include <dlfcn.h>
#include <stdio.h>

#define F(n) int exported_function_with_a_rather_long_name_number_##n(int x) { return x + 1; }
#define F10(n) F(n##0) F(n##1) F(n##2) F(n##3) F(n##4) F(n##5) F(n##6) F(n##7) F(n##8) F(n##9)
#define F100(n) F10(n##0) F10(n##1) F10(n##2) F10(n##3) F10(n##4) F10(n##5) F10(n##6) F10(n##7) F10(n##8) F10(n##9)
F100(1)
F100(2)

int main(void) {
  int n = 0;
  n = exported_function_with_a_rather_long_name_number_100(n);
  n = exported_function_with_a_rather_long_name_number_299(n);
  int (*f)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "exported_function_with_a_rather_long_name_number_250");
  if (f) n = f(n);
  printf("many-exports: %d calls%s\n", n, f ? ", one found by dlsym" : ", dlsym failed");
  return 0;
}
