/* prog -- links against libvers.so.1 (abilink test fixture). */
#include <stdio.h>

extern int vers_counter[4];
extern const char vers_table[16];
extern __thread int vers_tls;
int vers_compute(int);              /* binds to vers_compute@VERS_2.0 */
int vers_hello(const char *);
int vers_weak(void);
int vers_protected(int);
int vers_tls_get(void);

/* Explicitly bind to the old, hidden vers_compute@VERS_1.0. */
int vers_compute_old(int);
__asm__(".symver vers_compute_old, vers_compute@VERS_1.0");

int main(void)
{
  /* Sequence the calls explicitly so every architecture prints the same. */
  int n = vers_hello("hello from libvers");
  int new_v = vers_compute(10);
  int old_v = vers_compute_old(10);
  int weak = vers_weak();
  int prot = vers_protected(5);
  int tls;
  vers_tls += 1;
  tls = vers_tls_get();
  printf("n=%d new=%d old=%d weak=%d prot=%d counter=%d,%d tls=%d table=%s\n",
         n, new_v, old_v, weak, prot, vers_counter[0], vers_counter[1], tls,
         vers_table);
  return 0;
}
