/* libgreeting 1.0: uses libdemo's demo_greet, demo_info and demo_version. */
#include <stdio.h>
#include "demo.h"
#include "greeting.h"

const char *greeting_banner(const char *name) {
  static char hello[64], line[160];
  demo_greet(hello, sizeof hello, name);
  snprintf(line, sizeof line, "*** %s *** (libgreeting 1.0 on %s %s)", hello, demo_info.name, demo_version());
  return line;
}
