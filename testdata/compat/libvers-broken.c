/*
 * A libvers.so.1 that breaks what testdata/fixtures/x86_64/prog relies on, one way per
 * symbol, for `abilink compat` tests (built by the test with gcc):
 *   - version VERS_2.0 is gone, so vers_compute@VERS_2.0 and vers_tls_get@VERS_2.0 are too;
 *   - vers_counter grew from int[4] to int[8] (prog holds a 16-byte copy);
 *   - vers_table is 64-aligned now (prog's copy is not);
 *   - vers_hello is data, not a function.
 */
int vers_counter[8] = { 1, 2, 3, 4 };
_Alignas(64) const char vers_table[16] = "libvers-table";
__thread int vers_tls = 7;
int vers_hello = 5;
int vers_compute(int x) { return x + 1; }
__attribute__((weak)) int vers_weak(void) { return 42; }
__attribute__((visibility("protected"))) int vers_protected(int x) { return x; }
