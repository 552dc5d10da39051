#include <stdio.h>
const char *foo_version(void);
int foo_add(int, int);
int main(void) { printf("%s %d\n", foo_version(), foo_add(40, 2)); return 0; }
