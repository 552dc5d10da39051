/* NEW: same exported interface; different bodies, a new static (internal)
 * helper and a new import from libc (strlen). None of this is ABI. */
#include <string.h>

int counter = 7;

__attribute__((noipa)) static int twice_plus(int x, const char *tag)
{
    return 2 * x + (int)strlen(tag);
}

int add(int a, int b) { return (a ^ b) + 2 * (a & b); }

int scale(int x) { counter += 2; return twice_plus(x, "abc") + x; }
