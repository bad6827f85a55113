// app/index: the default module (MSwoole's Index.Index): index, ping, echo.
#include "msw/module.h"

namespace {

// index.index.index: the default method, reached by a message with no method.
void index(msw::Request& r) { r.success("success", "done"); }

void ping(msw::Request& r) { r.success("pong", "pong"); }

// Replies with the data it got: used by clients to test a round trip and by bench/.
void echo(msw::Request& r) { r.success("echo", "", r.data); }

int init(msw::Module& m) {
  m.controller("index").action("index", index).action("ping", ping).action("echo", echo);
  return 0;
}

}  // namespace

MSW_MODULE("index", init, nullptr);
