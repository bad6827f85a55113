// library/json_text.h: reading JSON values as they were written.
//
// cJSON keeps numbers as doubles, which merges integers above 2^53 and turns
// -0 into 0; where a value must be compared as its sender wrote it (a
// token's numeric id, docs/protocol.md), these find its text again. Pure
// functions: any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace msw {

// The largest integer magnitude a double holds exactly (2^53).
inline constexpr unsigned long long kMaxSafeInteger = 9007199254740992ULL;

// The text of the value of the `index`-th member (from 0, in document order,
// as cJSON lists them) of the JSON object at the start of `json`; nullopt
// when `json` does not start with an object of that many members. Meant for
// text cJSON has already accepted: it checks structure, not every token.
std::optional<std::string_view> memberText(std::string_view json, size_t index);

// True when `literal` is a JSON integer written plainly (an optional '-',
// then digits without a leading zero) of magnitude at most 2^53.
bool isSafeInteger(std::string_view literal);

}  // namespace msw
