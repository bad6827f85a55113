#include "framework/frame_builder.h"

#include <libwebsockets.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>

namespace msw {
namespace {

constexpr size_t kMaxHeader = 10;

void writeHeader(unsigned char* p, size_t len, size_t headerLen, bool binary) {
  p[0] = binary ? 0x82 : 0x81;  // FIN + binary or text
  if (headerLen == 2) {
    p[1] = static_cast<unsigned char>(len);
  } else if (headerLen == 4) {
    p[1] = 126;
    p[2] = static_cast<unsigned char>(len >> 8);
    p[3] = static_cast<unsigned char>(len);
  } else {
    p[1] = 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<unsigned char>(len >> (8 * (7 - i)));
  }
}

// The scratch buffer where envelopes are assembled before the one copy
// into their block: grows to the largest message a thread has built.
thread_local std::string tScratch;

}  // namespace

size_t frameHeaderSize(size_t payloadLen) {
  if (payloadLen < 126) return 2;
  if (payloadLen < 65536) return 4;
  return 10;
}

Payload buildTextFrame(std::string_view text) { return buildFrame(text, false); }

Payload buildFrame(std::string_view text, bool binary) {
  size_t header = frameHeaderSize(text.size());
  size_t headroom = LWS_PRE + kMaxHeader;
  void* mem = std::malloc(sizeof(FrameBlock) + headroom + text.size());
  if (!mem) throw std::bad_alloc();
  auto* b = new (mem) FrameBlock;
  b->refs.store(1, std::memory_order_relaxed);
  b->frameOff = static_cast<uint32_t>(headroom - header);
  b->frameLen = static_cast<uint32_t>(header + text.size());
  b->textLen = static_cast<uint32_t>(text.size());
  writeHeader(b->bytes() + b->frameOff, text.size(), header, binary);
  if (!text.empty()) std::memcpy(b->bytes() + headroom, text.data(), text.size());
  return Payload(b);
}

void appendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the current run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void appendJson(std::string& out, const cJSON* node) {
  if (!node) {
    out += "null";
    return;
  }
  if (cJSON_IsString(node)) {
    appendJsonString(out, node->valuestring);
    return;
  }
  if (cJSON_IsNumber(node)) {
    double d = node->valuedouble;
    if (!std::isfinite(d)) {  // JSON has no infinity or NaN (cJSON reads 1e400 as inf)
      out += "null";
      return;
    }
    char buf[32];
    // Range first: converting a double outside long long's range is undefined.
    if (d > -9.0e15 && d < 9.0e15 && d == static_cast<double>(static_cast<long long>(d)))
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    else
      std::snprintf(buf, sizeof buf, "%.17g", d);
    out += buf;
    return;
  }
  if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
    bool obj = cJSON_IsObject(node);
    out.push_back(obj ? '{' : '[');
    for (const cJSON* c = node->child; c; c = c->next) {
      if (c != node->child) out.push_back(',');
      if (obj) {
        appendJsonString(out, c->string ? c->string : "");
        out.push_back(':');
      }
      appendJson(out, c);
    }
    out.push_back(obj ? '}' : ']');
    return;
  }
  if (cJSON_IsTrue(node)) out += "true";
  else if (cJSON_IsFalse(node)) out += "false";
  else if (cJSON_IsRaw(node)) out += node->valuestring;
  else out += "null";
}

Payload buildMessage(int status, std::string_view event, std::string_view info, JsonRef param, JsonRef rid) {
  std::string& s = tScratch;
  s.clear();
  char num[16];
  std::snprintf(num, sizeof num, "%d", status);
  s += "{\"status\":";
  s += num;
  s += ",\"event\":";
  appendJsonString(s, event);
  s += ",\"info\":";
  appendJsonString(s, info);
  if (param) {
    s += ",\"param\":";
    appendJson(s, param.raw());
  }
  if (rid) {
    s += ",\"rid\":";
    appendJson(s, rid.raw());
  }
  s.push_back('}');
  return buildTextFrame(s);
}

Payload buildFlatMessage(int status, std::string_view event, std::string_view info, JsonRef param) {
  std::string& s = tScratch;
  s.clear();
  if (status != 200) {
    s += "{\"type\":\"error\",\"error\":";
    appendJsonString(s, info);
    s += ",\"status\":" + std::to_string(status) + "}";
    return buildTextFrame(s);
  }
  s += "{\"type\":";
  appendJsonString(s, event);
  if (param && cJSON_IsObject(param.raw())) {
    for (const cJSON* f = param.raw()->child; f; f = f->next) {
      if (!f->string || std::strcmp(f->string, "type") == 0) continue;
      s.push_back(',');
      appendJsonString(s, f->string);
      s.push_back(':');
      appendJson(s, f);
    }
  } else if (param) {
    s += ",\"data\":";
    appendJson(s, param.raw());
  }
  s.push_back('}');
  return buildTextFrame(s);
}

Payload buildReply(bool flat, int status, std::string_view event, std::string_view info, JsonRef rid) {
  return flat ? buildFlatMessage(status, event, info, {}) : buildMessage(status, event, info, {}, rid);
}

void escapeHtmlStrings(cJSON* node) {
  for (; node; node = node->next) {
    if (cJSON_IsString(node)) {
      const char* v = node->valuestring;
      if (!std::strpbrk(v, "&<>\"'")) continue;
      std::string e;
      for (const char* p = v; *p; ++p) {
        switch (*p) {
          case '&': e += "&amp;"; break;
          case '<': e += "&lt;"; break;
          case '>': e += "&gt;"; break;
          case '"': e += "&quot;"; break;
          case '\'': e += "&#039;"; break;
          default: e.push_back(*p);
        }
      }
      cJSON_SetValuestring(node, e.c_str());
    } else if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
      escapeHtmlStrings(node->child);
    }
  }
}

}  // namespace msw
