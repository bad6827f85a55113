// framework/connect_hook.cpp: the connect hook's request body and the reading of its answer.
#include "framework/connect_hook.h"

#include <libwebsockets.h>

#include "framework/auth.h"

namespace msw {
namespace {

// Keeps the auth within AuthData's 16-bit lengths (a cut JSON would be no JSON).
constexpr size_t kMaxAuthJson = 60000;

}  // namespace

std::string connectHookBody(lws* wsi, std::string_view endpoint, std::string_view ip) {
  Json body = Json::object();
  body.set("endpoint", endpoint);
  static thread_local char buf[8192];  // the whole header budget
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI);
  body.set("path", n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : std::string_view("/"));
  JsonRef query = body.addObject("query");
  // lws hands each argument url-decoded, as "name=value".
  for (int i = 0; lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; ++i) {
    std::string_view arg(buf);
    size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    if (!name.empty()) query.set(name.c_str(), eq == std::string_view::npos ? std::string_view() : arg.substr(eq + 1));
  }
  body.set("ip", ip);
  if (lws_hdr_custom_copy(wsi, buf, 64, "x-real-ip:", 10) > 0) body.set("real_ip", buf);
  return body.dump();
}

ConnectVerdict connectVerdict(const HookAnswer& a) {
  ConnectVerdict v;
  if (a.ok() && a.json.isObject()) {
    std::string json = a.json.dump();
    if (json.size() <= kMaxAuthJson) {
      v.admit = true;
      v.auth = authFromJson(json, a.json.raw());
      return v;
    }
    v.reason = "backend auth too large";
    return v;
  }
  switch (a.result) {
    case HookResult::kOk: v.reason = "backend answer is not an object"; break;
    case HookResult::kStatus:
      v.reason = a.httpStatus == 401 || a.httpStatus == 403 ? "refused by backend" : "backend error";
      break;
    case HookResult::kTimeout: v.reason = "backend timeout"; break;
    case HookResult::kCancelled: v.reason = "server stopping"; break;
    default: v.reason = "backend unavailable"; break;
  }
  return v;
}

}  // namespace msw
