/* foo@V1 kept as a hidden (non-default) version, foo@@V2 is the new default:
 * how glibc evolves an interface. */
int foo_v1(void) { return 1; }
int foo_v2(void) { return 2; }
int bar(void) { return 3; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
