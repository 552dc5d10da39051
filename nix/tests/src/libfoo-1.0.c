const char *foo_version(void) { return "libfoo 1.0"; }
int foo_add(int a, int b) { return a + b; }
