/* The first IFUNC makes GNU ld write EI_OSABI = ELFOSABI_GNU (3) instead of 0. */
static int f_impl(int x) { return x + 1; }
static int (*resolve_f(void))(int) { return f_impl; }
int f(int x) __attribute__((ifunc("resolve_f")));
