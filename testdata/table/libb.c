/* libB.so.1: the sibling libA finds through RUNPATH $ORIGIN (test/closure/table.test.ts). */
int b_value(void) { return 42; }
