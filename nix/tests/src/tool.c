#include <stdio.h>
const char *bar_describe(void);
int foo_add(int, int);
int main(void) { printf("tool: %s %d\n", bar_describe(), foo_add(1, 2)); return 0; }
