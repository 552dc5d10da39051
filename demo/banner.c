/* banner: a program using libdemo through libgreeting. */
#include <stdio.h>
#include "greeting.h"

int main(void) {
  puts(greeting_banner("banner"));
  return 0;
}
