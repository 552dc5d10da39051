long thing = 42;            /* OBJECT */
int other(void) { return 0; }
