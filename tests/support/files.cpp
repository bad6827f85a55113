// tests/support/files.cpp: see files.h.
#include "tests/support/files.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

namespace msw::test {

std::string makeTempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  return ::mkdtemp(pattern.data()) ? pattern : std::string();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace msw::test
