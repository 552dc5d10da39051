/* libchain-b.so: defines b_value, or only b_value_renamed when built with -DRENAMED. */
#ifdef RENAMED
int b_value_renamed(void) { return 41; }
#else
int b_value(void) { return 41; }
#endif
