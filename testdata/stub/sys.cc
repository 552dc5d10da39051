// A program of libstdc++ (and libgcc_s): iostreams, std::string, std::vector, and a
// std::runtime_error thrown inside libstdc++ (std::vector::at) and one thrown here, both
// caught here: unwinding crosses the library boundary.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

int main() {
  std::vector<std::string> words{"stub", "link", "equal"};
  std::string all;
  for (const auto &w : words) all += w + "/";
  std::cout << all << " " << words.size() << std::endl;
  try {
    (void)words.at(7);
  } catch (const std::out_of_range &e) {
    std::cout << "caught out_of_range from libstdc++" << std::endl;
  }
  try {
    throw std::runtime_error("thrown in the program");
  } catch (const std::exception &e) {
    std::cout << "caught " << e.what() << std::endl;
  }
  std::cerr << "cerr works" << std::endl;
  return 0;
}
