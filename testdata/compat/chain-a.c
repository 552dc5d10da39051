/* libchain-a.so: needs b_value from libchain-b.so (its own NEEDED, not the program's). */
int b_value(void);
int a_call(void) { return b_value() + 1; }
