// library/config_text.cpp: the spelling of config values (see config_text.h).
#include "library/config_text.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <system_error>
#include <vector>

namespace msw::config_text {

namespace fs = std::filesystem;

char lowerAscii(char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lowerAscii(x) == lowerAscii(y); });
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kBlank = " \t\r\n\f\v";
  size_t first = s.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kBlank) - first + 1);
}

std::string sizeText(int64_t bytes) {
  if (bytes > 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "g";
  if (bytes > 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "m";
  if (bytes > 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "k";
  return std::to_string(bytes);
}

std::string join(std::span<const std::string> items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string join(std::span<const char* const> items) {
  return join(std::vector<std::string>(items.begin(), items.end()));
}

// ---- values

std::optional<int64_t> parseInteger(std::string_view s) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parseSize(std::string_view s) {
  int64_t unit = 1;
  char last = s.empty() ? '\0' : lowerAscii(s.back());
  if (last == 'k') unit = kKiB;
  if (last == 'm') unit = kMiB;
  if (last == 'g') unit = kGiB;
  if (unit > 1) s.remove_suffix(1);
  std::optional<int64_t> n = parseInteger(s);
  if (!n || *n < 0 || *n > std::numeric_limits<int64_t>::max() / unit) return std::nullopt;
  return *n * unit;
}

std::optional<bool> parseBool(std::string_view s) {
  for (const char* yes : {"true", "yes", "on", "1"}) {
    if (iequals(s, yes)) return true;
  }
  for (const char* no : {"false", "no", "off", "0"}) {
    if (iequals(s, no)) return false;
  }
  return std::nullopt;
}

fs::path normalPath(const fs::path& p) {
  fs::path n = p.lexically_normal();
  // "dir/" normalises to "dir/" (an empty last part): drop the separator.
  if (!n.has_filename() && n.has_relative_path()) n = n.parent_path();
  return n;
}

fs::path absolutePath(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p.empty() ? fs::path(".") : fs::path(p), ec);
  return normalPath(ec ? fs::path(p) : a);
}

}  // namespace msw::config_text
