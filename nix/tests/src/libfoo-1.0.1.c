/* 1.0.1: an implementation fix, the same ABI */
const char *foo_version(void) { return "libfoo 1.0.1"; }
int foo_add(int a, int b) { return (int)((unsigned)a + (unsigned)b); }
