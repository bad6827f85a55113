// tests/support/files.h: the file helpers the test processes and fixtures
// share: a fresh folder under /tmp and a whole file read at once. Any thread.
#pragma once

#include <string>

namespace msw::test {

// Creates /tmp/PREFIX-XXXXXX (mkdtemp): its path, or empty with errno set.
std::string makeTempDir(const std::string& prefix);
// The whole file, or empty when it cannot be read.
std::string readFile(const std::string& path);

}  // namespace msw::test
