// examples/hello: the smallest module, "The shape of a module" in
// docs/controllers.md (kept compiling by the build).

#include "msw/module.h"

namespace {

void hello(msw::Request& r) {
  r.success("hello", "hi " + std::string(r.auth.nickname));
}

int init(msw::Module& m) {
  m.controller("greet").action("hello", hello);
  return 0;  // nonzero: the module is not loaded (and the reason is logged)
}

}  // namespace

MSW_MODULE("hello", init, nullptr);
