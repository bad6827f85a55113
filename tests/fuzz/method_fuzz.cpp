// tests/fuzz/method_fuzz.cpp: the "method" grammar (framework/method, docs/protocol.md):
// whatever it accepts is one to three non-empty lower-case segments of
// [a-z0-9_], and accepting is stable: the normalised name parses to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "framework/method.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool segmentOk(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = msw::parseMethod(in);
  if (!m) return 0;
  check(segmentOk(m->module) && segmentOk(m->controller) && segmentOk(m->action));
  check(in.find('\0') == std::string_view::npos);
  auto again = msw::parseMethod(m->full());
  check(again && again->full() == m->full());
  return 0;
}
