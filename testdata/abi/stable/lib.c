/* One ELF-level interface, built several ways by build.sh (gcc -O0/-O2/-g,
 * two build-ids, clang -O0/-O2). All of them must have the same ABI hash.
 * -DCHANGED_ALIGN gives s_origin _Alignas(64): that build must hash differently. */
#include <string.h>

#ifdef CHANGED_ALIGN
#define ORIGIN_ALIGN _Alignas(64)
#else
#define ORIGIN_ALIGN
#endif

/* api@V1 (hidden, kept for old binaries) and api@@V2 (default). */
int api_v1(int x) { return x + 1; }
int api_v2(int x, int y) { return x + y; }
__asm__(".symver api_v1, api@V1");
__asm__(".symver api_v2, api@@V2");

int stable_len(const char *s) { return (int)strlen(s); }

__attribute__((weak)) int stable_hook(int x) { return x; } /* WEAK FUNC */

struct pair { long a, b; };

int s_counter = 1;                                  /*   4 bytes, .data */
char s_tag[3] = "ab";                               /*   3 bytes, alignment 1 */
ORIGIN_ALIGN struct pair s_origin = {1, 2};         /*  16 bytes, struct */
long s_triple[3] = {1, 2, 3};                       /*  24 bytes */
char s_buf[100];                                    /* 100 bytes, .bss */
double s_big[32] = {1.0};                           /* 256 bytes */
const int s_table[8] = {2, 3, 5, 7, 11, 13, 17, 19}; /* const table, .rodata */
const char *const s_names[3] = {"x", "y", "z"};     /* const, but relocated: .data.rel.ro */
__thread int s_tls = 5;                             /* TLS, .tdata */
__thread char s_tlsbuf[40];                         /* TLS, .tbss */

long stable_sum(void)
{
    return s_counter + s_origin.a + s_triple[2] + s_buf[0] + (long)s_big[0] +
           s_table[7] + s_names[0][0] + s_tag[1] + s_tls + s_tlsbuf[0];
}
