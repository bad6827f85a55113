// tests/modules/hooktest: a module plugin that calls backend hooks, for
// tests/integration/backend_test.cpp (docs/backend.md).
//
// Controller "hook" (methods hooktest.hook.ACTION):
//   call   calls the module's own hook data "name" (hooktest.NAME) with data
//          "body" (an object) and replies, when the hook ends, "hookAnswer"
//          with the request's rid and param {"result","status","json","error"}
#include <string>

#include "msw/module.h"

namespace {

using msw::HookAnswer;
using msw::Json;
using msw::Request;

void call(Request& r) {
  std::string name(r.data["name"].str());
  std::string body = r.data["body"].isObject() ? r.data["body"].dump() : "{}";
  r.hook(name, std::move(body), [reply = r.later()](const HookAnswer& a) {
    Json p = Json::object();
    p.set("result", msw::hookResultName(a.result));
    p.set("status", a.httpStatus);
    p.set("json", a.json);
    p.set("error", a.error);
    reply.success("hookAnswer", "", p);
  });
}

int init(msw::Module& m) {
  m.controller("hook").action("call", call);
  return 0;
}

}  // namespace

MSW_MODULE("hooktest", init, nullptr);
