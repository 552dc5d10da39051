/* libvers.so.1 -- small shared library exercising GNU symbol versioning.
 *
 * Exports (see libvers.map):
 *   vers_compute@VERS_1.0   hidden (non-default) old version, via .symver
 *   vers_compute@@VERS_2.0  default version, via .symver
 *   vers_hello@@VERS_1.0    plain default-versioned function (calls puts/strlen)
 *   vers_counter@@VERS_1.0  writable data object (int[4])
 *   vers_table@@VERS_1.0    read-only data object
 *   vers_weak@@VERS_1.0     STB_WEAK function
 *   vers_tls@@VERS_1.0      STT_TLS variable
 *   vers_protected@@VERS_1.0 STV_PROTECTED function
 *   vers_tls_get@@VERS_2.0  returns vers_tls
 */
#include <stdio.h>
#include <string.h>

int vers_counter[4] = { 1, 2, 3, 4 };
const char vers_table[16] = "libvers-table";
__thread int vers_tls = 7;

/* Old ABI: vers_compute(x) = x + 1. */
int vers_compute_v1(int x) { return x + 1; }
__asm__(".symver vers_compute_v1, vers_compute@VERS_1.0");

/* New ABI: vers_compute(x) = x * 2 + counter[0]. */
int vers_compute_v2(int x) { return x * 2 + vers_counter[0]; }
__asm__(".symver vers_compute_v2, vers_compute@@VERS_2.0");

int vers_hello(const char *who)
{
  puts(who);
  return (int)strlen(who);
}

__attribute__((weak)) int vers_weak(void) { return 42; }

__attribute__((visibility("protected"))) int vers_protected(int x)
{
  vers_counter[1] += x;
  return vers_counter[1];
}

int vers_tls_get(void) { return vers_tls; }
