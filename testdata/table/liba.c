/* libA.so.1: RUNPATH $ORIGIN, NEEDED libB.so.1, its sibling in the implementation's directory. */
int b_value(void);
int a_value(void) { return b_value() + 1; }
