// Checks that the program and libunique.so.1 see ONE Counter<int>::n: same address from
// both sides, and a bump on one side is seen on the other. Exits 1 otherwise.
#include <cstdio>
#include "unique.h"

int main() {
  int *mine = counter_here(), *theirs = lib_counter();
  bump();
  lib_bump();
  std::printf("same=%d n=%d\n", mine == theirs, *mine);
  return mine == theirs && *mine == 2 && *theirs == 2 ? 0 : 1;
}
