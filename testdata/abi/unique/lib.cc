// The function-local static of an inline function has vague linkage: g++
// exports it as STB_GNU_UNIQUE so that every module shares one copy at run
// time. NEW is the same source built with -fno-gnu-unique (see new.flags):
// the symbol then becomes a plain WEAK definition.
inline int &counter() { static int c = 0; return c; }
int bump() { return ++counter(); }
