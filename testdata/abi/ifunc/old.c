/* `anchor` is an IFUNC on both sides, so both files have EI_OSABI = GNU
 * (ld sets it whenever an IFUNC or GNU_UNIQUE symbol is defined) and the only
 * difference is f: FUNC here, IFUNC in NEW. */
static int anchor_impl(void) { return 0; }
static int (*resolve_anchor(void))(void) { return anchor_impl; }
int anchor(void) __attribute__((ifunc("resolve_anchor")));

int f(int x) { return x + 1; }
