// tests/fuzz/message_fuzz.cpp: libFuzzer target for the message path: the
// strict JSON reading of a client's frame (parseMessage), the method grammar
// (parseMethod) and the rid kept as written. Needs framework/message.cpp,
// framework/method.cpp and cJSON. Beyond "no crash, no sanitizer report" it
// checks what the router relies on: an accepted message is an object whose
// rid, if any, is a string or a safe integer that parses back as JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "framework/message.h"
#include "framework/method.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  msw::Message m = msw::parseMessage(text);
  if (!m.error.empty()) {
    if (m.root) std::abort();  // a refused message hands nothing on
    return 0;
  }
  if (!m.root.isObject() || m.root.has("rid")) std::abort();
  if (m.rid) {
    if (!cJSON_IsRaw(m.rid.raw())) std::abort();
    std::string_view rid = m.rid.raw()->valuestring;
    msw::Json back = msw::Json::parse(rid);
    if (!back.isString() && !msw::isSafeJsonInteger(rid)) std::abort();
  }
  msw::JsonRef method = m.root["method"];
  if (method.isString()) {
    std::optional<msw::MethodName> name = msw::parseMethod(method.str());
    if (name && name->full().size() > method.str().size() + 12) std::abort();  // at most "index.index." added
  }
  return 0;
}
