/* Failure case: a program that takes the address of (or reads directly) protected data.
 * A copy relocation would split pdata in two (the library binds to its own), so the link
 * must fail against the library and against its stub alike. */
extern int pdata;

int main(void) { return pdata; }
