// app/rooms/rooms.h: what the two halves of the rooms module share: the
// store keys, the [rooms] settings, the flat messages and the errors.
//
// rooms.cpp speaks HybridPHP's protocol (docs/rooms.md): connected, join,
// leave, broadcast, ping; resume.cpp keeps a dropped connection's session
// and gives it back, missed messages included. Every piece of state is in
// the store, so the module holds nothing of its own across a message, a
// reload or a node (a resume in progress is the one exception: its
// callbacks carry it until the room goes live).
//
// Store keys (under [cache] prefix); CID is a connection id (App::member,
// "node:fd"), SID a session id (32 hex digits), ROOM a room name:
//   rooms:sid:CID        string: the session of a connection that is open
//   rooms:in:CID         set: the rooms that connection is in
//   rooms:at:CID         hash: room -> the room's counter when it joined (or resumed)
//   rooms:members:ROOM   set: the CIDs holding a seat (open, or dropped and resumable)
//   rooms:seq:ROOM       counter: the last broadcast's sequence number
//   rooms:history:ROOM   list: the latest broadcasts, oldest first (history_size, history_ttl)
//   rooms:session:SID    hash: secret, cid, state (live | dropped), dropped_at, rooms, pos
//   rooms:tries:SID      counter: reconnect tries since the drop
//   rooms:claim:SID:SECRET counter: the one reconnect that spends that token gets 1
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "msw/module.h"

namespace rooms {

constexpr const char* kController = "rooms.client";
constexpr int64_t kLiveTtl = 86400;  // an open connection's keys, should its node die without a close
constexpr int64_t kGrace = 60;       // store keys outlive the session's deadline, which is checked by time

// Errors, in HybridPHP's style ({"type":"error","error":TEXT}).
constexpr const char* kRoomRequired = "Room required";
constexpr const char* kRoomFull = "Room is full";
constexpr const char* kTooManyRooms = "Too many rooms";
constexpr const char* kNotInRoom = "Not in room";
constexpr const char* kTokenRequired = "Token required";
constexpr const char* kBadToken = "Invalid or expired reconnection token";
constexpr const char* kTooManyTries = "Too many reconnection attempts";
constexpr const char* kStillConnected = "Session is still connected";
constexpr const char* kStoreError = "Store unavailable";

inline std::string key(const char* kind, std::string_view name) { return std::string("rooms:") + kind + ":" + std::string(name); }

inline int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// A [rooms] key (docs/configuration.md#rooms), as of the latest reload.
int64_t setting(msw::App& app, const char* name, int64_t fallback);

// Sends a flat object {"type":TYPE, ...fields} to fd.
void sendFlat(msw::App& app, msw::Fd fd, const char* type, msw::JsonRef fields);
void sendError(msw::App& app, msw::Fd fd, std::string_view text);

// A session for an open connection, with a fresh secret: its keys, and the
// token SID.SECRET that reconnect_token carries. `sid` empty = a new session.
std::string startSession(msw::App& app, msw::Fd fd, std::string sid);
void sendToken(msw::App& app, msw::Fd fd, const std::string& token);

// 16 random bytes (OpenSSL RAND_bytes) as 32 hex digits.
std::string randomHex();

// The `reconnect` action, the close, and the timers (resume.cpp).
void reconnect(msw::Request& r);
void dropped(msw::App& app, const msw::CloseInfo& info);
void onTimer(msw::App& app, std::string_view arg);

}  // namespace rooms
