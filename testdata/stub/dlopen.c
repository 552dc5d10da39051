/* dlopen(argv[1]): prints dlerror() and exits 1 when it fails, prints "loaded" and exits 0
 * otherwise. Loading a stub must fail before any of its code could run. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    printf("%s\n", dlerror());
    return 1;
  }
  printf("loaded\n");
  return 0;
}
