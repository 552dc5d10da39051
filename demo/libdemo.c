/* libdemo. Built with -DDEMO_MAJOR=M -DDEMO_MINOR=N -DDEMO_PATCH=P and libdemo.map:
   1.0.0 has a bug (demo_greet ignores the buffer's size), 1.0.1 fixes it with the same ABI,
   2.0.0 breaks the ABI (demo_greet@DEMO_0.9 removed, demo_info grown). */
#include <stdio.h>
#include "demo.h"

const struct demo_info demo_info = { "libdemo", DEMO_MAJOR, DEMO_MINOR, DEMO_PATCH };

const char *demo_version(void) {
  static char v[32];
  if (DEMO_PATCH == 0) snprintf(v, sizeof v, "%d.%d", DEMO_MAJOR, DEMO_MINOR);
  else snprintf(v, sizeof v, "%d.%d.%d", DEMO_MAJOR, DEMO_MINOR, DEMO_PATCH);
  return v;
}

__asm__(".symver demo_greet_1_0, demo_greet@@DEMO_1.0");
int demo_greet_1_0(char *buf, size_t n, const char *name) {
#if DEMO_MAJOR == 1 && DEMO_MINOR == 0 && DEMO_PATCH == 0
  (void)n;
  return sprintf(buf, "Hello, %s!", name); /* the bug: a long NAME writes past BUF */
#else
  return snprintf(buf, n, "Hello, %s!", name);
#endif
}

#if DEMO_MAJOR < 2
/* The 0.9 interface, for programs linked before 1.0. */
__asm__(".symver demo_greet_0_9, demo_greet@DEMO_0.9");
void demo_greet_0_9(const char *name) {
  printf("Hello, %s!\n", name);
}
#endif
