/* Failure case: a reference to a version libstubby.so.1 does not define (foo@V9). The link
 * must fail against the library and against its stub alike. */
int foo_v9(void);
__asm__(".symver foo_v9, foo@V9");

int main(void) { return foo_v9(); }
