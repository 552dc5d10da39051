/* Same source; NEW is linked with -Wl,-soname,libcase.so.2 (see new.flags). */
int one(void) { return 1; }
