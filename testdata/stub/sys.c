/* A program of the system libraries: libc (stdio, environ, errno, qsort), libm (sin, cos,
 * lgamma and its signgam), libz and libcrypto. zlib's and OpenSSL's headers need not be
 * installed (only their runtime packages are): their prototypes are declared here, and the
 * program links with -l:libz.so.1 -l:libcrypto.so.3. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* zlib (zlib.h) */
const char *zlibVersion(void);
int compress(unsigned char *dest, unsigned long *destLen, const unsigned char *source, unsigned long sourceLen);
int uncompress(unsigned char *dest, unsigned long *destLen, const unsigned char *source, unsigned long sourceLen);
/* libcrypto (openssl/crypto.h, openssl/sha.h) */
const char *OpenSSL_version(int type);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(void) {
  int v[5] = {5, 3, 9, 1, 7};
  qsort(v, 5, sizeof v[0], cmp);
  printf("sorted %d %d %d %d %d\n", v[0], v[1], v[2], v[3], v[4]);
  printf("environ %s\n", environ != NULL && environ[0] != NULL ? "set" : "empty");
  errno = 0;
  if (strtol("99999999999999999999999", NULL, 10) == LONG_MAX && errno == ERANGE) printf("errno ERANGE\n");
  volatile double x = 0.5, g = -0.5;
  double lg = lgamma(g);
  printf("sin %.6f cos %.6f lgamma %.6f signgam %d\n", sin(x), cos(x), lg, signgam);

  const char *text = "hello hello hello hello hello";
  unsigned char packed[128], unpacked[128];
  unsigned long plen = sizeof packed, ulen = sizeof unpacked;
  int zc = compress(packed, &plen, (const unsigned char *)text, strlen(text) + 1);
  int zu = uncompress(unpacked, &ulen, packed, plen);
  printf("zlib %s %d %d %s\n", zlibVersion()[0] == '1' ? "1.x" : "?", zc, zu, (const char *)unpacked);

  unsigned char md[32];
  SHA256((const unsigned char *)"abc", 3, md);
  printf("openssl %.9s sha256(abc) %02x%02x%02x%02x\n", OpenSSL_version(0), md[0], md[1], md[2], md[3]);
  fflush(stdout);
  fprintf(stderr, "stderr works\n");
  return 0;
}
