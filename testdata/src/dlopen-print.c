/* Loads the shared object named by argv[1] with dlopen (RTLD_NOW) and prints, for each
 * further argument, NAME=<the string at that symbol's address>, or NAME missing. ld.so
 * finds each symbol through the object's hash tables. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("dlopen failed: %s\n", dlerror());
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    const char *p = dlsym(h, argv[i]);
    if (p) printf("%s=%s\n", argv[i], p);
    else printf("%s missing\n", argv[i]);
  }
  return 0;
}
