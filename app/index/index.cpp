// app/index: the default module (MSwoole's Index.Index): index, ping, echo;
// and index.raw, the frame handler of a `route = raw` endpoint that sends
// every frame back unchanged (docs/endpoints.md).
#include "msw/module.h"

namespace {

// index.index.index: the default method, reached by a message with no method.
void index(msw::Request& r) { r.success("success", "done"); }

void ping(msw::Request& r) { r.success("pong", "pong"); }

// Replies with the data it got: used by clients to test a round trip and by bench/.
void echo(msw::Request& r) { r.success("echo", "", r.data); }

// index.raw: text back as text, binary as binary, byte for byte.
void rawEcho(msw::Frame& f) { f.send(f.data, f.binary); }

int init(msw::Module& m) {
  m.controller("index").action("index", index).action("ping", ping).action("echo", echo);
  m.controller("raw").onFrame(rawEcho);
  return 0;
}

}  // namespace

MSW_MODULE("index", init, nullptr);
