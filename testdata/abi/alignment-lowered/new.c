struct pair { long a, b; };
struct pair origin = {1, 2}; /* 16 bytes, 8-aligned (a struct, not an array) */
long sum(void) { return origin.a + origin.b; }
