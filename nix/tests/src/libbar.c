const char *foo_version(void);
const char *bar_describe(void) { return foo_version(); }
