// examples/docs/endpoints_snippets.cpp: the code block of docs/endpoints.md
// "For module authors", between "// [doc:NAME]" and "// [/doc]", compiled by
// the build; tests/unit/docs_examples_test.cpp checks that the block of the
// page is its region here, word for word. Never loaded: only compiled.
#include "msw/module.h"

namespace {

int init(msw::Module& m) {
  // [doc:controllers]
  // A type endpoint's controller: actions named by "type", a greeting on open.
  m.controller("chat")
      .onOpen([](msw::App& app, const msw::OpenInfo& o) {
        // Runs when a connection of an endpoint naming this controller opens,
        // before any of its messages: greetings come first.
        msw::Json p = msw::Json::object();
        app.sendToFd(o.fd, app.flatMessage(200, "connected", "", p));  // {"type":"connected"}
      })
      .action("say", [](msw::Request& r) {
        // r.endpoint.name, r.endpoint.flavor, r.endpoint.flat
        r.success("said", "", r.data);  // flat: {"type":"said", ...data}
      });

  // A raw endpoint's controller: every frame as it came.
  m.controller("raw").onFrame([](msw::Frame& f) { f.send(f.data, f.binary); });
  // [/doc]
  return 0;
}

}  // namespace

MSW_MODULE("endpoints_snippets", init, nullptr);
