const int k[4] = {1, 2, 3, 4}; /* .rodata */
int first(void) { return k[0]; }
