long thing(void) { return 42; } /* FUNC */
int other(void) { return 0; }
