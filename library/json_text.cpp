// library/json_text.cpp: finding a JSON member's text as written (see json_text.h).
#include "library/json_text.h"

#include <charconv>

namespace msw {
namespace {

// What cJSON skips between tokens: every byte up to and including space.
void skipBlank(std::string_view s, size_t& i) {
  while (i < s.size() && static_cast<unsigned char>(s[i]) <= 32) ++i;
}

bool skipString(std::string_view s, size_t& i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return ++i, true;
  }
  return false;
}

// An object or array: brackets are counted, strings skipped whole.
bool skipNested(std::string_view s, size_t& i) {
  size_t depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      if (!skipString(s, i)) return false;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return ++i, true;
    ++i;
  }
  return false;
}

// A number or a literal (true, false, null): up to the next delimiter.
bool skipScalar(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && static_cast<unsigned char>(s[i]) > 32 && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i > start;
}

bool skipValue(std::string_view s, size_t& i) {
  if (i >= s.size()) return false;
  if (s[i] == '"') return skipString(s, i);
  if (s[i] == '{' || s[i] == '[') return skipNested(s, i);
  return skipScalar(s, i);
}

}  // namespace

std::optional<std::string_view> memberText(std::string_view json, size_t index) {
  size_t i = 0;
  if (json.starts_with("\xEF\xBB\xBF")) i = 3;  // cJSON skips a UTF-8 BOM
  skipBlank(json, i);
  if (i >= json.size() || json[i] != '{') return std::nullopt;
  ++i;
  for (size_t member = 0;; ++member) {
    skipBlank(json, i);
    if (i >= json.size() || json[i] != '"' || !skipString(json, i)) return std::nullopt;
    skipBlank(json, i);
    if (i >= json.size() || json[i] != ':') return std::nullopt;
    ++i;
    skipBlank(json, i);
    size_t start = i;
    if (!skipValue(json, i)) return std::nullopt;
    if (member == index) return json.substr(start, i - start);
    skipBlank(json, i);
    if (i >= json.size() || json[i] != ',') return std::nullopt;
    ++i;
  }
}

bool isSafeInteger(std::string_view literal) {
  std::string_view digits = literal.starts_with('-') ? literal.substr(1) : literal;
  if (digits.empty() || digits.size() > 16 || (digits[0] == '0' && digits.size() > 1)) return false;
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc() && end == digits.data() + digits.size() && value <= kMaxSafeInteger;
}

}  // namespace msw
