// framework/method.h: the "method" grammar of docs/protocol.md#messages.
//
// One to three segments of [A-Za-z0-9_], dot-separated, case-insensitive:
// "a" = index.index.a, "c.a" = index.c.a, "m.c.a" as given; no method at
// all = index.index.index.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace msw {

struct MethodName {
  std::string module;
  std::string controller;
  std::string action;
  std::string full() const { return module + "." + controller + "." + action; }
};

// nullopt when `method` is not of the grammar. Segments are lower-cased.
std::optional<MethodName> parseMethod(std::string_view method);

inline MethodName defaultMethod() { return {"index", "index", "index"}; }

}  // namespace msw
