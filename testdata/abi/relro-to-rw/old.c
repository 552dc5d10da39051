/* const, but holds pointers (relocated at load time): .data.rel.ro. The
 * section has SHF_WRITE, yet it lies in PT_GNU_RELRO and GNU ld treats it as
 * read-only: an executable's copy relocation of names goes to its own
 * .data.rel.ro. */
const char *const names[2] = {"a", "b"};
const char *first(void) { return names[0]; }
