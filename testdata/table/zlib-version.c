/* A program using zlib, pointed at a table's libz.so.1. */
#include <stdio.h>
#include <zlib.h>
int main(void) {
  unsigned long crc = crc32(0L, (const unsigned char *)"abilink", 7);
  printf("zlib %s crc %08lx\n", zlibVersion(), crc);
  return 0;
}
