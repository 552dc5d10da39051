/* 2.0: an ABI break (foo_add removed, foo_sum added) under the same SONAME */
const char *foo_version(void) { return "libfoo 2.0"; }
long foo_sum(long a, long b) { return a + b; }
