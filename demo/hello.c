/* hello: a program using libdemo directly (a call, and a copy of demo_info). */
#include <stdio.h>
#include "demo.h"

int main(void) {
  char buf[64];
  demo_greet(buf, sizeof buf, "world");
  printf("%s (%s %s)\n", buf, demo_info.name, demo_version());
  return 0;
}
