#include "framework/http_response.h"

#include <libwebsockets.h>

#include "framework/frame_builder.h"

#include <cstring>
#include <string>

namespace msw {

bool writeHttpResponse(lws* wsi, int status, const char* contentType, std::string_view body, const char* extraName,
                       const char* extraValue) {
  constexpr size_t kHead = 512;
  std::string out(LWS_PRE + kHead, '\0');
  auto* start = reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = start + kHead - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned>(status), contentType, body.size(), &p, end)) return false;
  if (extraName && lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(extraName),
                                               reinterpret_cast<const unsigned char*>(extraValue),
                                               static_cast<int>(std::strlen(extraValue)), &p, end))
    return false;
  if (lws_finalize_http_header(wsi, &p, end)) return false;
  out.resize(LWS_PRE + static_cast<size_t>(p - start));
  out.append(body);
  auto* data = reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE;
  return lws_write(wsi, data, out.size() - LWS_PRE, LWS_WRITE_HTTP_FINAL) >= 0;
}

std::string statusBody(int status, std::string_view info) {
  std::string body = "{\"status\":" + std::to_string(status) + ",\"info\":";
  appendJsonString(body, info);
  body += "}";
  return body;
}

}  // namespace msw
