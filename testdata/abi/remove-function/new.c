int one(void) { return 1; }
/* two() removed */
