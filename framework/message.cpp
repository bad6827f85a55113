#include "framework/message.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>

namespace msw {
namespace {

// What cJSON skips between tokens (any byte up to the space): the scan below
// must see the same tokens cJSON saw.
bool isSpace(char c) { return static_cast<unsigned char>(c) <= 0x20; }

size_t skipSpace(std::string_view s, size_t i) {
  while (i < s.size() && isSpace(s[i])) ++i;
  return i;
}

// s[i] is the opening quote: the index after the closing one.
size_t skipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return s.size();
}

// The end of the JSON value starting at s[i] (text cJSON has already accepted).
size_t skipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        i = skipString(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !isSpace(s[i])) ++i;
  return i;
}

// An escaped NUL (\u0000) in a string: an odd run of backslashes before "u0000".
bool hasEscapedNul(std::string_view s) {
  for (size_t at = s.find("u0000"); at != std::string_view::npos; at = s.find("u0000", at + 1)) {
    size_t slashes = 0;
    while (slashes < at && s[at - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) return true;
  }
  return false;
}

// The text of the top-level value at position `index` (in cJSON's child
// order) of a valid object: the members before it are skipped unread.
std::string_view memberText(std::string_view s, int index) {
  size_t i = skipSpace(s, 0) + 1;  // past '{'
  for (int at = 0;; ++at) {
    i = skipSpace(s, i);
    if (i >= s.size() || s[i] != '"') return {};
    i = skipSpace(s, skipString(s, i)) + 1;  // past ':'
    i = skipSpace(s, i);
    size_t end = skipValue(s, i);
    if (at == index) return s.substr(i, end - i);
    i = skipSpace(s, end);
    if (i >= s.size() || s[i] != ',') return {};
    ++i;
  }
}

const char* duplicateKey(const cJSON* object) {
  int n = 0;
  for (const cJSON* c = object->child; c; c = c->next) ++n;
  if (n <= 16) {
    for (const cJSON* a = object->child; a; a = a->next)
      for (const cJSON* b = a->next; b; b = b->next)
        if (std::strcmp(a->string, b->string) == 0) return a->string;
    return nullptr;
  }
  std::unordered_set<std::string_view> seen;
  for (const cJSON* c = object->child; c; c = c->next)
    if (!seen.insert(c->string).second) return c->string;
  return nullptr;
}

// A client's key, shown in an answer and a log line: short, no control characters.
std::string shown(const char* key) {
  std::string out(key, strnlen(key, 64));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

Message refuse(std::string why) {
  Message m;
  m.error = std::move(why);
  return m;
}

}  // namespace

bool isSafeJsonInteger(std::string_view n) {
  if (!n.empty() && n[0] == '-') n.remove_prefix(1);
  if (n.empty() || n.size() > 16 || (n[0] == '0' && n.size() > 1)) return false;
  for (char c : n)
    if (c < '0' || c > '9') return false;
  // 2^53 = 9007199254740992: 16 digits, compared as text of equal length.
  return n.size() < 16 || n <= "9007199254740992";
}

Message parseMessage(std::string_view text, bool keepRid) {
  if (std::memchr(text.data(), 0, text.size()) || hasEscapedNul(text))
    return refuse("message holds a NUL character");
  const char* end = nullptr;
  Json root(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
  if (!root.isObject()) return refuse("message is not a JSON object");
  if (skipSpace(text, static_cast<size_t>(end - text.data())) != text.size())
    return refuse("message must be one JSON object and nothing after it");
  if (const char* key = duplicateKey(root.raw())) return refuse("key \"" + shown(key) + "\" appears twice");
  Message m;
  if (keepRid) {
    m.root = std::move(root);
    return m;
  }
  // Most messages have no rid: then nothing is scanned again.
  int ridIndex = 0;
  const cJSON* child = root.raw()->child;
  while (child && std::strcmp(child->string, "rid") != 0) {
    child = child->next;
    ++ridIndex;
  }
  std::string_view ridText = child ? memberText(text, ridIndex) : std::string_view();
  if (!ridText.empty()) {
    bool isString = ridText.front() == '"';
    auto isControl = [](char c) { return static_cast<unsigned char>(c) < 0x20; };
    bool control = isString && std::any_of(ridText.begin(), ridText.end(), isControl);
    if (control || (!isString && !isSafeJsonInteger(ridText)))
      return refuse("rid must be a string or an integer of at most 2^53 in magnitude");
    cJSON_DeleteItemFromObjectCaseSensitive(root.raw(), "rid");
    m.rid = Json(cJSON_CreateRaw(std::string(ridText).c_str()));
  }
  m.root = std::move(root);
  return m;
}

}  // namespace msw
