/* The array itself is writable now: .data. */
const char *names[2] = {"a", "b"};
const char *first(void) { return names[0]; }
