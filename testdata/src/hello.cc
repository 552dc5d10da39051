// A small C++ program (libstdc++, exceptions, iostreams) for the rewriter's tests.
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

int main() {
  std::istringstream in("three small words");
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  try {
    if (words.size() != 3) throw std::runtime_error("bad count");
    std::cout << "hello from C++: " << words.size() << " words" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << e.what() << std::endl;
    return 1;
  }
  return 0;
}
