int k[4] = {1, 2, 3, 4}; /* .data */
int first(void) { return k[0]; }
