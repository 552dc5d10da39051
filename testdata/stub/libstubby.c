/* libstubby.so.1: one of each kind of exported symbol a stub must reproduce so that a
 * program links against the stub exactly as against this library (see libstubby.map for
 * the versions, prog.c for the program that uses everything). Built by
 * test/stub/link-equivalence.test.ts: gcc -O2 -fPIC -shared -Wl,-soname,libstubby.so.1
 * -Wl,--version-script=libstubby.map libstubby.c */
#include "stubby.h"

/* One name, two versions: foo@V1 (hidden, for old programs) and foo@@V2 (the default a new
 * link binds to). */
int foo_v1(void) { return 1; }
int foo_v2(void) { return 2; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");

/* Data of every size and alignment a copy relocation must reproduce: the copy's size
 * comes from st_size, its alignment from the symbol's address (and the section). */
char d1 = 1;
short d2 = 2;
int d4 = 4;
long d8 = 8;
struct s16 d16 = {{16, 17}};
struct s24 d24 = {{24, 25, 26}};
struct s40 d40 = {{40, 41, 42, 43, 44}};
_Alignas(64) int d64 = 64;

/* Read-only data (.rodata): GNU ld puts its copy in .data.rel.ro, lld in .bss.rel.ro. */
const int table[4] = {10, 20, 30, 40};

/* RELRO data: pointers to be relocated, read-only after relocation (.data.rel.ro). */
const char *const names[3] = {"alpha", "beta", "gamma"};

/* An alias group: two names, one object. A copy relocation of either must move both, so
 * the library's own accesses through `alias_weak` see the program's copy. */
int alias_main = 7;
extern int alias_weak __attribute__((weak, alias("alias_main")));

/* Thread-local data: the program reads it through the TLS model its relocation implies. */
__thread int counter = 5;

/* An IFUNC: the symbol's value is a resolver, called by ld.so at relocation time. */
static int ifn_impl(void) { return 41; }
static int (*ifn_resolver(void))(void) { return ifn_impl; }
int ifn(void) __attribute__((ifunc("ifn_resolver")));

/* A weak definition: exported with STB_WEAK. */
__attribute__((weak)) int weakfn(void) { return 3; }

/* Protected data: a program may not take a copy of it (the library binds to its own). */
__attribute__((visibility("protected"))) int pdata = 9;
int get_pdata(void) { return pdata; }

/* The library's view of the objects the program may have copied: after copy relocations,
 * both sides must see the same storage. */
int lib_sum(void) {
  return d1 + d2 + d4 + (int)d8 + (int)d16.v[0] + (int)d24.v[0] + (int)d40.v[0] + d64 + table[3] + alias_weak + counter;
}
const char *lib_name(int i) { return names[i]; }
int *lib_alias_addr(void) { return &alias_weak; }
/* A function's address as the library sees it: a non-PIE program that takes weakfn's
 * address gets a canonical PLT entry (a defined-looking UND symbol with st_value set), and
 * both sides must agree on the address. */
void *lib_weakfn_addr(void) { return (void *)weakfn; }

/* An import the program satisfies: a link against the library exports the program's
 * stubby_hook to its .dynsym because this library refers to it (a link hint, hint-import,
 * that the hashed manifest does not carry). Weak, so that programs need not define it: a
 * strong import that nothing defines fails the link with GNU ld, gold and lld
 * (--no-allow-shlib-undefined is their default for executables), not with mold. */
int stubby_hook(void) __attribute__((weak));
int lib_call_hook(void) { return stubby_hook ? stubby_hook() : -1; }
