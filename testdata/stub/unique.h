// Shared by libunique.cc and unique.cc. Counter<int>::n is a static data member of a
// template instantiated in both the library and the program: g++ emits it as a
// STB_GNU_UNIQUE symbol (with -fPIC) in a COMDAT group, so ld.so merges every definition
// into ONE object at run time, and a link must keep that (the program's copy is exported).
template <class T> struct Counter {
  static int n;
};
template <class T> int Counter<T>::n = 0;

inline int *counter_here() { return &Counter<int>::n; }
inline int bump() { return ++Counter<int>::n; }

int *lib_counter();  // the library's &Counter<int>::n
int lib_bump();      // ++ on the library's side
