// tests/fuzz/frame_builder_fuzz.cpp: the frame builder (framework/frame_builder):
// any text becomes one well-formed text frame; any JSON a client sends,
// escaped and put into an envelope, comes out as JSON that parses back.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "framework/frame_builder.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The payload length a server frame header announces.
size_t announced(const unsigned char* f) {
  size_t len = f[1] & 0x7f;
  if (len == 126) return size_t{f[2]} << 8 | f[3];
  if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = len << 8 | f[2 + i];
  }
  return len;
}

void textFrame(std::string_view in) {
  msw::Payload p = msw::buildTextFrame(in);
  const unsigned char* f = p.frame();
  check(f[0] == 0x81 && (f[1] & 0x80) == 0 && announced(f) == in.size());
  check(p.frameSize() == msw::frameHeaderSize(in.size()) + in.size());
  check(std::memcmp(f + msw::frameHeaderSize(in.size()), in.data(), in.size()) == 0);
}

// A string without NUL survives as itself (cJSON strings end at a NUL).
void jsonString(std::string_view in) {
  std::string literal;
  msw::appendJsonString(literal, in);
  msw::Json back = msw::Json::parse(literal);
  check(back.isString());
  if (in.find('\0') == std::string_view::npos) check(back.str() == in);
}

void envelope(std::string_view in) {
  msw::Json param = msw::Json::parse(in);
  if (!param) return;
  msw::escapeHtmlStrings(param.raw());
  msw::Payload p = msw::buildMessage(200, "ev", in.substr(0, 64), param, param);
  msw::Json out = msw::Json::parse(p.text());
  check(out.isObject() && out["status"].i64() == 200 && out["event"].str() == "ev");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  textFrame(in);
  jsonString(in);
  envelope(in);
  return 0;
}
