// framework/http_response.h: one complete HTTP response in one write.
#pragma once

#include <string>
#include <string_view>

struct lws;

namespace msw {

// Status line, Content-Type, Content-Length, an optional extra header
// ("name:", value), then the body, in a single lws_write (lws keeps any
// unsent tail and sends it first). False if the headers did not fit or the
// write failed: the caller should then close the connection.
bool writeHttpResponse(lws* wsi, int status, const char* contentType, std::string_view body,
                       const char* extraName = nullptr, const char* extraValue = nullptr);

// The JSON body of a refusal on the outside port: {"status":N,"info":"..."}.
std::string statusBody(int status, std::string_view info);

}  // namespace msw
