/* libB.so.1: the sibling libA finds through RUNPATH $ORIGIN (test/closure/table.test.ts); -DB_VALUE=98 makes a "fixed" build. */
#ifndef B_VALUE
#define B_VALUE 42
#endif
int b_value(void) { return B_VALUE; }
