#include "framework/method.h"

#include <array>

namespace msw {
namespace {

constexpr size_t kMaxSegment = 64;

bool segmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

std::optional<MethodName> parseMethod(std::string_view method) {
  std::array<std::string, 3> seg;
  size_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= method.size(); ++i) {
    if (i < method.size() && method[i] != '.') {
      if (!segmentChar(method[i])) return std::nullopt;
      continue;
    }
    size_t len = i - start;
    if (len == 0 || len > kMaxSegment || n == 3) return std::nullopt;
    std::string& s = seg[n++];
    s.assign(method.substr(start, len));
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    start = i + 1;
  }
  if (n == 1) return MethodName{"index", "index", std::move(seg[0])};
  if (n == 2) return MethodName{"index", std::move(seg[0]), std::move(seg[1])};
  return MethodName{std::move(seg[0]), std::move(seg[1]), std::move(seg[2])};
}

}  // namespace msw
