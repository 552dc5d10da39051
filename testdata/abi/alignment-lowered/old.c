struct pair { long a, b; };
_Alignas(64) struct pair origin = {1, 2}; /* same size, 64-aligned */
long sum(void) { return origin.a + origin.b; }
