/* libdemo's interface: the library `abilink demo` builds as 1.0, 1.0.1 (a security fix with the
   same ABI) and 2.0 (an ABI break). Programs include this header from the 1.0 sources. */
#ifndef DEMO_H
#define DEMO_H
#include <stddef.h>

/* A data object: programs that read it get a copy (a copy relocation) of exactly this size. */
struct demo_info {
  char name[8];
  int major, minor, patch;
#if defined(DEMO_MAJOR) && DEMO_MAJOR >= 2
  int flags; /* 2.0 grows the object: a program's copy would be too small */
#endif
};
extern const struct demo_info demo_info;

/* "1.0", "1.0.1", ... */
const char *demo_version(void);

/* Writes "Hello, NAME!" into BUF, at most N bytes; returns the length it needed
   (demo_greet@@DEMO_1.0; demo_greet@DEMO_0.9 printed it, and stays for old programs). */
int demo_greet(char *buf, size_t n, const char *name);
#endif
