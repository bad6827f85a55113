// library/endpoint_config.cpp: parsing and checking [endpoint.NAME] sections.
#include "library/endpoint_config.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "library/config.h"

namespace msw {
namespace {

bool wordChars(std::string_view v, std::string_view extra) {
  return std::all_of(v.begin(), v.end(), [extra](char ch) {
    bool alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    return alnum || extra.find(ch) != std::string_view::npos;
  });
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

// Index of `v` (any case) in `names`, or -1.
int pick(std::string_view v, std::initializer_list<const char*> names) {
  int i = 0;
  for (const char* n : names) {
    if (lowerCopy(v) == n) return i;
    ++i;
  }
  return -1;
}

bool parseInt(std::string_view v, int64_t min, int64_t max, int64_t& out) {
  int64_t unit = 1;
  if (!v.empty() && (v.back() == 'k' || v.back() == 'K')) unit = 1024;
  if (!v.empty() && (v.back() == 'm' || v.back() == 'M')) unit = 1024 * 1024;
  if (unit > 1) v.remove_suffix(1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n > max / unit) return false;
  out = n * unit;
  return out >= min && out <= max;
}

std::string range(int64_t min, int64_t max) {
  return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

template <class T>
std::string setNumber(T& dest, std::string_view v, int64_t min, int64_t max) {
  int64_t n = 0;
  if (!parseInt(v, min, max, n)) return range(min, max);
  dest = static_cast<T>(n);
  return {};
}

template <class E>
std::string setEnum(E& dest, std::string_view v, std::initializer_list<const char*> names) {
  int i = pick(v, names);
  if (i < 0) {
    std::string all;
    for (const char* n : names) all += (all.empty() ? "" : ", ") + std::string(n);
    return "must be one of " + all;
  }
  dest = static_cast<E>(i);
  return {};
}

const char* pathRule(std::string_view v) {
  if (v.empty() || v[0] != '/') return "must be a path starting with / (e.g. /chat)";
  if (v.find_first_of("?# \t") != std::string_view::npos) return "must be a path without ?, #, or blanks";
  return nullptr;
}

const char* controllerRule(std::string_view v) {
  size_t dot = v.find('.');
  bool ok = dot != std::string_view::npos && dot > 0 && dot + 1 < v.size() && wordChars(v, "_.") &&
            v.find('.', dot + 1) == std::string_view::npos;
  return ok ? nullptr : "must be module.controller (two names of A-Z a-z 0-9 _)";
}

std::string setBool(int& dest, std::string_view v) {
  int i = pick(v, {"false", "no", "off", "0", "true", "yes", "on", "1"});
  if (i < 0) return "must be one of true, false, yes, no, on, off, 1, 0";
  dest = i >= 4 ? 1 : 0;
  return {};
}

std::string setText(std::string& dest, std::string_view v, const char* (*rule)(std::string_view)) {
  if (const char* why = rule(v)) return why;
  dest = v;
  return {};
}

}  // namespace

const char* heartbeatRule(std::string_view v) { return pick(v, {"text", "none"}) < 0 ? "must be one of text, none" : nullptr; }

const char* wordRule(std::string_view v) {
  return wordChars(v, "_-") && v.size() <= 64 ? nullptr : "must be empty or a word of A-Z a-z 0-9 _ - (at most 64)";
}


bool endpointSection(std::string_view section, std::string_view& name) {
  if (section.size() < 9 || lowerCopy(section.substr(0, 9)) != "endpoint.") return false;
  name = section.substr(9);
  return true;
}

namespace {

std::string setKey(EndpointConfig& e, std::string_view key, std::string_view v) {
  std::string k = lowerCopy(key);
  if (k == "path") return setText(e.path, v, pathRule);
  if (k == "port") return setNumber(e.port, v, 1, 65535);
  if (k == "route") return setEnum(e.route, v, {"method", "type", "raw"});
  if (k == "controller") return setText(e.controller, v, controllerRule);
  if (k == "envelope") return setEnum(e.envelope, v, {"msw", "flat"});
  if (k == "auth") return setEnum(e.auth, v, {"token", "optional", "none", "backend"});
  if (k == "auth_param") {
    if (v.empty() || !wordChars(v, "_-.")) return "must be a query parameter name of A-Z a-z 0-9 _ - .";
    e.authParam = v;
    return {};
  }
  if (k == "ack") return setText(e.live.ack, v, wordRule);
  if (k == "flavor") return setText(e.flavor, v, wordRule);
  if (k == "heartbeat") {
    if (const char* why = heartbeatRule(v)) return why;
    e.heartbeat = lowerCopy(v);
    return {};
  }
  if (k == "max_message_size") return setNumber(e.live.maxMessageSize, v, 16, int64_t{64} * 1024 * 1024);
  if (k == "rate_limit") return setNumber(e.live.rateLimit, v, 0, 1000000);
  if (k == "rate_burst") return setNumber(e.live.rateBurst, v, 1, 1000000);
  if (k == "heartbeat_idle_time") return setNumber(e.live.heartbeatIdleTime, v, 0, 86400);
  if (k == "escape_html") return setBool(e.live.escapeHtml, v);
  return "unknown key";
}

}  // namespace

EndpointKeyNote setEndpointKey(std::vector<EndpointConfig>& eps, std::string_view name, int headerLine,
                               std::string_view key, std::string_view value) {
  auto it = std::find_if(eps.begin(), eps.end(), [&](const EndpointConfig& e) { return lowerCopy(e.name) == lowerCopy(name); });
  if (it == eps.end()) {
    it = eps.insert(eps.end(), EndpointConfig{});
    it->name = name;
    it->line = headerLine;
    if (name.empty() || !wordChars(name, "_-"))
      return {"[endpoint." + std::string(name) + "]: an endpoint's name must be made of A-Z a-z 0-9 _ -", true, true};
  }
  std::string why = setKey(*it, key, value);
  std::string at = "[endpoint." + it->name + "] " + std::string(key);
  if (why.empty()) return {};
  if (why == "unknown key") return {at + ": unknown key (ignored)", false, false};
  return {at + " = " + std::string(value) + ": " + why, true, false};
}

std::vector<std::pair<int, std::string>> finishEndpoints(Config& c) {
  std::vector<std::pair<int, std::string>> problems;
  std::map<std::pair<int, std::string>, const EndpointConfig*> claimed;
  for (EndpointConfig& e : c.endpoints) {
    std::string at = "[endpoint." + e.name + "] ";
    if (e.path.empty()) problems.emplace_back(e.line, at + "path: required (e.g. path = /chat)");
    if (e.route != RouteMode::kMethod && e.controller.empty())
      problems.emplace_back(e.line, at + "controller: required with route = type or raw (module.controller)");
    if (e.auth == AuthMode::kBackend && c.backendUrl.empty())
      problems.emplace_back(e.line, at + "auth = backend: needs [backend] url (the connect hook, docs/backend.md)");
    if (e.port == c.managerPort && e.port != 0)
      problems.emplace_back(e.line, at + "port " + std::to_string(e.port) + " is the [manager] port");
    int port = e.port ? e.port : c.port;
    auto [it, fresh] = claimed.emplace(std::pair{port, e.path}, &e);
    if (!fresh && !e.path.empty())
      problems.emplace_back(e.line, at + "path " + e.path + " on port " + std::to_string(port) +
                                        " is already [endpoint." + it->second->name + "]'s");
    if (e.heartbeat.empty()) e.heartbeat = e.route == RouteMode::kRaw ? "none" : "text";
    EndpointLive& l = e.live;
    if (l.maxMessageSize < 0) l.maxMessageSize = c.live.maxMessageSize;
    if (l.rateLimit < 0) l.rateLimit = c.live.rateLimit;
    if (l.rateBurst < 0) l.rateBurst = c.live.rateBurst;
    if (l.heartbeatIdleTime < 0) l.heartbeatIdleTime = c.live.heartbeatIdleTime;
    if (l.escapeHtml < 0) l.escapeHtml = c.live.escapeHtml ? 1 : 0;
  }
  return problems;
}

void reloadEndpoints(const Config& fresh, Config& live, std::vector<std::string>& notes) {
  for (EndpointConfig& e : live.endpoints) {
    auto it = std::find_if(fresh.endpoints.begin(), fresh.endpoints.end(),
                           [&](const EndpointConfig& f) { return f.name == e.name; });
    if (it == fresh.endpoints.end()) {
      notes.push_back("[endpoint." + e.name + "] removed from the file: stays until a restart");
      continue;
    }
    const EndpointConfig& f = *it;
    if (f.path != e.path || f.port != e.port || f.route != e.route || f.controller != e.controller ||
        f.envelope != e.envelope || f.auth != e.auth || f.authParam != e.authParam || f.flavor != e.flavor ||
        f.heartbeat != e.heartbeat)
      notes.push_back("[endpoint." + e.name + "]: only the limits, ack and escape_html change on reload; "
                      "path, port, route, controller, envelope, auth, auth_param, flavor and heartbeat need a restart");
    e.live = f.live;
  }
  for (const EndpointConfig& f : fresh.endpoints)
    if (std::none_of(live.endpoints.begin(), live.endpoints.end(), [&](const EndpointConfig& e) { return e.name == f.name; }))
      notes.push_back("[endpoint." + f.name + "] is new: it opens at the next restart");
}

std::string describeEndpoint(const EndpointConfig& e, int outsidePort) {
  static const char* const kRoutes[] = {"method", "type", "raw"};
  static const char* const kAuth[] = {"token", "optional", "none", "backend"};
  std::string s = "port=" + std::to_string(e.port ? e.port : outsidePort) + " path=" + e.path +
                  " route=" + kRoutes[static_cast<int>(e.route)];
  if (!e.controller.empty()) s += " controller=" + e.controller;
  s += std::string(" envelope=") + (e.envelope == EnvelopeKind::kFlat ? "flat" : "msw");
  s += std::string(" auth=") + kAuth[static_cast<int>(e.auth)];
  if (!e.live.ack.empty()) s += " ack=" + e.live.ack;
  if (!e.flavor.empty()) s += " flavor=" + e.flavor;
  return s + " heartbeat=" + e.heartbeat;
}

}  // namespace msw
