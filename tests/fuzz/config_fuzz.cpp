// tests/fuzz/config_fuzz.cpp: the ini reader (library/config), fed the input
// as a configuration file. Whatever the file holds, loading answers with
// errors or a Config, and never throws or crashes.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "library/config.h"

namespace {

// One file per process, rewritten for each input (libFuzzer runs inputs one at a time).
const std::string& scratchFile() {
  static const std::string path = [] {
    char name[] = "/tmp/msw-config-fuzz-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& file = scratchFile();
  FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  msw::Config config;
  msw::ConfigLoad load = msw::loadConfig(file, "/tmp", config);
  if (load.ok != load.errors.empty()) std::abort();
  if (load.ok && msw::dumpConfig(config).empty()) std::abort();
  return 0;
}
