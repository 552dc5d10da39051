/* Uses every kind of symbol libstubby.so.1 exports. Compiled with -fno-pie for the non-PIE
 * links and -fPIE for the PIE ones: every data object it names gets a copy relocation in
 * the non-PIE program (and, on x86-64, in the PIE too: gcc accesses extern data directly
 * and relies on copy relocations there). Prints what it saw; exits 0 only when the library
 * and the program agree on every object. */
#include <stdio.h>
#include "stubby.h"

int foo(void); /* binds to foo@@V2 */
extern char d1;
extern short d2;
extern int d4;
extern long d8;
extern struct s16 d16;
extern struct s24 d24;
extern struct s40 d40;
extern _Alignas(64) int d64;
extern const int table[4];
extern const char *const names[3];
extern int alias_main, alias_weak;
extern __thread int counter;
int ifn(void);
int weakfn(void);
int get_pdata(void);
int lib_sum(void);
const char *lib_name(int);
int *lib_alias_addr(void);
void *lib_weakfn_addr(void);

/* The library calls back into the program: the link must export it (the library imports it). */
int stubby_hook(void) { return 1000; }

int main(void) {
  int bad = 0;
  /* Write every copied object, then check that the library sees the writes: one object. */
  d1 += 1; d2 += 1; d4 += 1; d8 += 1; d16.v[0] += 1; d24.v[0] += 1; d40.v[0] += 1; d64 += 1;
  alias_main += 1; counter += 1;
  int expect = 2 + 3 + 5 + 9 + 17 + 25 + 41 + 65 + 40 + 8 + 6;
  if (lib_sum() != expect) { printf("lib_sum %d != %d\n", lib_sum(), expect); bad = 1; }
  if (lib_alias_addr() != &alias_weak || &alias_weak != &alias_main) { printf("alias group split\n"); bad = 1; }
  if ((unsigned long)&d64 % 64 != 0) { printf("d64 misaligned\n"); bad = 1; }
  if ((unsigned long)&d16 % 16 != 0) { printf("d16 misaligned\n"); bad = 1; }
  /* Non-PIE: the address of a library function is the program's PLT entry (canonical). */
  if ((void *)weakfn != lib_weakfn_addr()) { printf("weakfn address differs\n"); bad = 1; }
  if (lib_name(1) != names[1]) { printf("names differ\n"); bad = 1; }
  printf("foo=%d ifn=%d weakfn=%d pdata=%d table=%d,%d,%d,%d names=%s,%s,%s counter=%d sum=%d\n",
         foo(), ifn(), weakfn(), get_pdata(), table[0], table[1], table[2], table[3],
         names[0], names[1], names[2], counter, lib_sum());
  printf("sizes %zu %zu %zu %zu %zu %zu %zu %zu hook=%d\n", sizeof d1, sizeof d2, sizeof d4, sizeof d8,
         sizeof d16, sizeof d24, sizeof d40, sizeof d64, stubby_hook());
  return bad;
}
