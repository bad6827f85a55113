// framework/message.h: a client's text frame, read strictly (docs/protocol.md "Messages").
//
// The whole frame must be one JSON object with no key twice and no NUL in
// any string (cJSON would cut the string there, so a method or a value would
// be read as something shorter than what was sent); `rid` must be a string
// or an integer of at most 2^53 in magnitude and is kept as its JSON text, so
// that the reply carries exactly the characters sent. A pure function of the
// bytes: the router's first step, and what tests/fuzz/message_fuzz.cpp runs.
#pragma once

#include <string>
#include <string_view>

#include "msw/json.h"

namespace msw {

struct Message {
  Json root;          // the object, rid taken out; null when error is set
  Json rid;           // the rid as sent (a cJSON raw item), or null
  std::string error;  // non-empty: the message is refused (400 badRequest), this is why
};

// keepRid: a flat envelope's (docs/endpoints.md) fields are all its own, so
// "rid" stays in root as any other field.
Message parseMessage(std::string_view text, bool keepRid = false);

// A JSON integer of at most 2^53 in magnitude, written -?(0|[1-9][0-9]*).
bool isSafeJsonInteger(std::string_view number);

}  // namespace msw
