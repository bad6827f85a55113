// library/endpoint_config.h: the [endpoint.NAME] sections of the ini file
// (docs/endpoints.md, docs/configuration.md).
//
// An endpoint is a path, optionally on a port of its own, with its own
// routing, message shape and authentication. This file holds the parsed
// form and the checks; config.cpp hands it every key of an [endpoint.*]
// section and calls finishEndpoints() once the whole file is read. Plain
// data, no threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace msw {

struct Config;

enum class RouteMode : uint8_t { kMethod, kType, kRaw };
enum class EnvelopeKind : uint8_t { kMsw, kFlat };
enum class AuthMode : uint8_t { kToken, kOptional, kNone, kBackend };

// What a reload may change. The limits are -1 until finishEndpoints()
// copies [outside]'s into those the section did not set.
struct EndpointLive {
  std::string ack;  // ack [empty]: the event sent before each JSON message is handled
  int64_t maxMessageSize = -1;
  int rateLimit = -1;
  int rateBurst = -1;
  int heartbeatIdleTime = -1;
  int escapeHtml = -1;  // -1 unset, 0, 1
};

struct EndpointConfig {
  std::string name;  // NAME of [endpoint.NAME], as written
  int line = 0;      // the section's header line, for messages
  std::string path;  // path (required): exact request path, query ignored
  int port = 0;      // port [0 = [outside] port]
  RouteMode route = RouteMode::kMethod;        // route [method] | type | raw
  std::string controller;                      // controller: "module.controller"
  EnvelopeKind envelope = EnvelopeKind::kMsw;  // envelope [msw] | flat
  AuthMode auth = AuthMode::kToken;            // auth [token] | optional | none | backend
  std::string authParam = "auth";              // auth_param [auth]
  std::string flavor;                          // flavor [empty]
  std::string heartbeat;                       // heartbeat [text | none; raw: none]

  EndpointLive live;

  bool heartbeatText() const { return heartbeat == "text"; }
};

// One key of [endpoint.NAME], into the endpoint of that name (made on first
// use, remembering headerLine). What to report, if anything: an error (a bad
// value or name) or a warning (an unknown key), at the header or the key's line.
struct EndpointKeyNote {
  std::string text;  // empty: nothing to report
  bool error = false;
  bool atHeader = false;
};
EndpointKeyNote setEndpointKey(std::vector<EndpointConfig>& endpoints, std::string_view name, int headerLine,
                               std::string_view key, std::string_view value);

// Whether a section name is an endpoint's ("endpoint.NAME", any case), and its NAME.
bool endpointSection(std::string_view section, std::string_view& name);

// After the whole file: copies [outside]'s limits into what an endpoint did
// not set, and checks the endpoints together. Each problem: (line, text).
std::vector<std::pair<int, std::string>> finishEndpoints(Config& c);

// `heartbeat` of [outside]: nullptr when `v` is text or none.
const char* heartbeatRule(std::string_view v);
// `ack` and `flavor`: nullptr when `v` is empty or a word of A-Z a-z 0-9 _ -.
const char* wordRule(std::string_view v);

// Copies what a reload may change (limits, ack, escape_html) from `fresh` into
// `live`, for endpoints of the same name; anything else that differs is a
// warning in `notes` ("needs a restart").
void reloadEndpoints(const Config& fresh, Config& live, std::vector<std::string>& notes);

// "route=method" style one-line description, for the start log and --print-config.
std::string describeEndpoint(const EndpointConfig& e, int outsidePort);

}  // namespace msw
