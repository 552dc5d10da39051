/* Uses libA only: libB is libA's private sibling, not in the table. */
#include <stdio.h>
int a_value(void);
int main(void) { printf("a=%d\n", a_value()); return 0; }
