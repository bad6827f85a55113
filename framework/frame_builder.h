// framework/frame_builder.h: turning text into shared WebSocket frames.
//
// A frame is built once, header included (server frames are unmasked, so
// the same bytes go to every recipient), into a Payload block with LWS_PRE
// bytes of headroom in front, as lws_write() wants.
#pragma once

#include <string>
#include <string_view>

#include "msw/json.h"
#include "msw/payload.h"

namespace msw {

// A text frame carrying `text`.
Payload buildTextFrame(std::string_view text);
// A text or binary frame carrying `bytes` as they are.
Payload buildFrame(std::string_view bytes, bool binary);
// Whether `p` is a binary frame (else text).
inline bool isBinaryFrame(const Payload& p) { return (p.frame()[0] & 0x0f) == 0x2; }

// The docs/protocol.md#messages envelope {"status","event","info","param","rid"}; param and
// rid are left out when they are null views.
Payload buildMessage(int status, std::string_view event, std::string_view info, JsonRef param, JsonRef rid);

// A `flat` endpoint's message (docs/endpoints.md): {"type":EVENT, ...param's
// fields} for status 200, else {"type":"error","error":INFO,"status":N}.
Payload buildFlatMessage(int status, std::string_view event, std::string_view info, JsonRef param);

// The framework's own answer (an error, an ack) in an endpoint's envelope.
Payload buildReply(bool flat, int status, std::string_view event, std::string_view info, JsonRef rid);

// Appends `s` as a JSON string literal (quotes included) to `out`.
void appendJsonString(std::string& out, std::string_view s);

// Appends the compact JSON text of `node` to `out`.
void appendJson(std::string& out, const cJSON* node);

// HTML-escapes every string value in the tree, in place (& < > " ').
void escapeHtmlStrings(cJSON* node);

// Size of the header of a server frame with `payloadLen` bytes of payload.
size_t frameHeaderSize(size_t payloadLen);

}  // namespace msw
