static int anchor_impl(void) { return 0; }
static int (*resolve_anchor(void))(void) { return anchor_impl; }
int anchor(void) __attribute__((ifunc("resolve_anchor")));

static int f_impl(int x) { return x + 1; }
static int (*resolve_f(void))(int) { return f_impl; }
int f(int x) __attribute__((ifunc("resolve_f")));
