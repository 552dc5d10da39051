/* libpt.so.1 for the copy relocation cases (test/abi/compat-ldso.test.ts): no version
 * script; `origin` is ORIGIN_WORDS ints, or absent when ORIGIN_WORDS is 0. */
#if ORIGIN_WORDS > 0
int origin[ORIGIN_WORDS] = {1, 2, 3, 4};
#endif
int pt_get(void) { return 7; }
