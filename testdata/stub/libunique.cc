// libunique.so.1: a C++ library whose Counter<int>::n (unique.h) is a GNU_UNIQUE object.
#include "unique.h"

int *lib_counter() { return counter_here(); }
int lib_bump() { return bump(); }
