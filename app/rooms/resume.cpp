// app/rooms/resume.cpp: reconnection that loses nothing (docs/rooms.md#reconnection).
//
// A drop keeps the session (rooms, and each room's sequence number at the
// drop) for reconnection_ttl, with its seats. `reconnect {token}` on any
// node sharing the store takes the session over once (the token's claim
// counter), holds the connection's room messages, joins its rooms, replays
// the history newer than the drop position in order, then releases what
// was held without the messages the replay already sent (by sequence
// number): no gap, no repeat, even while others keep broadcasting. A token
// whose connection its node still thinks open closes that connection and
// is looked at again a second later. A session not resumed in time ends:
// its seats go and the rooms hear member_left. Runs on the worker of the
// connection concerned.
#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rooms.h"

namespace rooms {

using msw::App;
using msw::Fd;
using msw::Json;
using msw::JsonRef;
using msw::StoreResult;

namespace {

constexpr int kMaxRounds = 32;    // history reads waiting for a numbered message to land in it
constexpr int kSkipSeconds = 10;  // how long live copies of replayed messages are looked out for
constexpr int64_t kSlack = 64;    // entries two nodes may have pushed out of their order

std::string field(const msw::StrMap& h, const char* name) {
  auto it = h.find(name);
  return it == h.end() ? std::string() : it->second;
}

bool isHex32(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return s.size() == 32 && std::all_of(s.begin(), s.end(), hex);
}

int64_t ttlOf(App& app) { return setting(app, "reconnection_ttl", 300); }

// A seat given back: the room hears member_left.
void endSession(App& app, const std::string& sid, const std::string& cid, JsonRef rooms) {
  for (JsonRef r : rooms) {
    std::string room(r.str());
    app.store().srem(key("members", room), cid);
    Json event = Json::object();
    event.set("type", "member_left").set("room", room).set("connection_id", cid).set("timestamp", now());
    app.sendToRoom(room, app.frame(event.dump()));
  }
  app.store().del(key("session", sid));
  app.store().del(key("tries", sid));
}

// One broadcast read back from a room's history.
struct Entry {
  int64_t seq = 0;
  int64_t timestamp = 0;
  std::string text;
};

// The history's entries younger than history_ttl, by sequence number (two
// nodes may push in the other order than they numbered).
std::vector<Entry> retained(App& app, const msw::StrList& list) {
  int64_t maxAge = setting(app, "history_ttl", 600), t = now();
  std::vector<Entry> out;
  for (const std::string& text : list) {
    Json m = Json::parse(text);
    Entry e{m["seq"].i64(), m["timestamp"].i64(), text};
    if (t - e.timestamp <= maxAge) out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
  return out;
}

// A resume in progress, carried by its callbacks until every room is live.
struct Resume {
  App* app = nullptr;
  Fd fd = 0;
  std::string oldCid;
  std::string token;  // the fresh one
  std::vector<std::string> rooms;
  std::map<std::string, int64_t> last;  // per room: the client has every message up to this one
  std::vector<int64_t> target;          // per room: its counter at the first read (later ones come live)
  std::vector<bool> done;               // per room: nothing more to wait for
  bool announced = false;               // reconnected sent
  std::vector<std::string> lost;        // rooms whose history no longer reaches back to the drop
  int64_t droppedAt = 0;
  int rounds = 0;
  int replayed = 0;
};
using ResumePtr = std::shared_ptr<Resume>;

void round(const ResumePtr& r);

// Sends what follows the room's position without a hole; true when the room
// has nothing more to wait for (its counter as of the first read reached).
bool replayRoom(Resume& r, size_t i, const msw::StrList& list) {
  int64_t& last = r.last[r.rooms[i]];
  for (const Entry& e : retained(*r.app, list)) {
    if (e.seq <= last) continue;
    if (e.seq != last + 1) break;  // numbered, not yet in the history: next round
    last = e.seq;
    r.app->sendToFd(r.fd, r.app->frame(e.text));
    ++r.replayed;
  }
  return r.target[i] <= last;
}

// Whether the history still reaches back to the room's position. If not, the
// room is in `lost` and its replay starts at the oldest entry kept. An empty
// history after a recent drop is not a loss: what was numbered since is too
// young to have expired and is still on its way there (or here, held).
void checkCoverage(Resume& r, size_t i, const msw::StrList& list) {
  int64_t& last = r.last[r.rooms[i]];
  if (r.target[i] <= last) return;
  std::vector<Entry> kept = retained(*r.app, list);
  if (!kept.empty() && kept.front().seq <= last + 1) return;
  bool young = now() - r.droppedAt < setting(*r.app, "history_ttl", 600) && setting(*r.app, "history_size", 1000) > 0;
  if (kept.empty() && young) return;
  r.lost.push_back(r.rooms[i]);
  if (kept.empty()) r.done[i] = true;  // nothing to replay; held messages still go out
  else last = kept.front().seq - 1;
}

// Before any replayed message the client learns what it is about to get:
// its rooms, which of them lost part of their history, and its new token.
void announce(Resume& r) {
  Json msg = Json::object();
  JsonRef rooms = msg.addArray("rooms");
  for (const std::string& room : r.rooms) rooms.push(room);
  msg.set("previous_connection_id", r.oldCid);
  JsonRef lost = msg.addArray("history_lost");
  for (const std::string& room : r.lost) lost.push(room);
  sendFlat(*r.app, r.fd, "reconnected", msg);
  sendToken(*r.app, r.fd, r.token);
  r.announced = true;
}

// Live: what rooms sent meanwhile goes out, less what the replay sent,
// whose live copies may also still be on their way here (kSkipSeconds).
void finish(const ResumePtr& r) {
  App& app = *r->app;
  std::string at = key("at", app.member(r->fd));
  for (const auto& [room, seq] : r->last) {
    app.store().hset(at, room, std::to_string(seq));
    app.skipRoomMessages(r->fd, room, "seq", seq, kSkipSeconds);
  }
  app.store().expire(at, kLiveTtl);
  app.releaseRoomMessages(r->fd);
  app.log(msw::LogLevel::kInfo, "rooms: conn " + std::to_string(r->fd) + " resumed " + r->oldCid + ": " +
                                    std::to_string(r->replayed) + " replayed in " + std::to_string(r->rounds) +
                                    " history read(s)");
}

// Replays up to each room's counter as of the first read: a broadcast
// numbered after that read was numbered after the join, so the room sends
// it to this connection, where it is held until the replay is over.
void afterRound(const ResumePtr& r, const std::vector<std::pair<int64_t, msw::StrList>>& got) {
  if (r->rounds == 1)
    for (const auto& g : got) r->target.push_back(g.first);
  if (!r->announced) {
    for (size_t i = 0; i < r->rooms.size(); ++i) checkCoverage(*r, i, got[i].second);
    announce(*r);
  }
  bool waiting = false;
  for (size_t i = 0; i < r->rooms.size(); ++i) {
    if (!r->done[i]) r->done[i] = replayRoom(*r, i, got[i].second);
    waiting |= !r->done[i];
  }
  if (waiting && r->rounds < kMaxRounds) return round(r);
  finish(r);
}

// Each room's counter, then its history: whatever the counter shows was
// numbered before the read, so it is in the history or on its way there
// (the publisher pushes it there before it sends it).
void round(const ResumePtr& r) {
  ++r->rounds;
  auto got = std::make_shared<std::vector<std::pair<int64_t, msw::StrList>>>(r->rooms.size());
  if (r->rooms.empty()) return afterRound(r, *got);
  msw::Store& s = r->app->store();
  for (size_t i = 0; i < r->rooms.size(); ++i) {
    s.get(key("seq", r->rooms[i]), [got, i](StoreResult<std::optional<std::string>> v) {
      (*got)[i].first = v.ok() && *v ? std::strtoll((*v)->c_str(), nullptr, 10) : 0;
    });
    // Later rounds read only the end of the history, where what is missing lands.
    int64_t from = r->rounds == 1 ? 0 : -(r->target[i] - r->last[r->rooms[i]] + kSlack);
    s.lrange(key("history", r->rooms[i]), std::min<int64_t>(from, 0), -1, [r, got, i](StoreResult<msw::StrList> list) {
      (*got)[i].second = std::move(list.value);
      if (i + 1 == r->rooms.size()) afterRound(r, *got);
    });
  }
}

// The session is this connection's now: seats, rooms and keys move over,
// room messages are held, and the replay starts.
void adopt(App& app, Fd fd, const std::string& sid, const msw::StrMap& session, const std::string& ownSid) {
  auto r = std::make_shared<Resume>();
  r->app = &app;
  r->fd = fd;
  r->oldCid = field(session, "cid");
  r->droppedAt = std::strtoll(field(session, "dropped_at").c_str(), nullptr, 10);
  std::string cid = app.member(fd);
  Json rooms = Json::parse(field(session, "rooms"));
  Json pos = Json::parse(field(session, "pos"));
  msw::Store& s = app.store();
  if (!ownSid.empty() && ownSid != sid) s.del(key("session", ownSid));
  s.del(key("tries", sid));
  r->token = startSession(app, fd, sid);
  app.holdRoomMessages(fd);
  for (JsonRef room : rooms) {
    std::string name(room.str());
    r->rooms.push_back(name);
    r->last[name] = pos[name].i64();
    s.srem(key("members", name), r->oldCid);
    s.sadd(key("members", name), cid);
    s.sadd(key("in", cid), name);
    app.join(fd, name);
  }
  s.expire(key("in", cid), kLiveTtl);
  r->done.assign(r->rooms.size(), false);
  round(r);
}

// What the checks of a reconnect read, in one round trip.
struct Attempt {
  int64_t tries = 0;
  msw::StrMap session;
  std::string ownSid;
  std::string error;
};

// Why the token cannot be used, or empty when it can.
const char* refusal(App& app, const Attempt& a, const std::string& secret) {
  if (!a.error.empty()) return kStoreError;
  if (a.session.empty()) return kBadToken;
  if (a.tries > setting(app, "reconnection_max_attempts", 5)) return kTooManyTries;
  std::string current = field(a.session, "secret");
  if (current.size() != secret.size() || CRYPTO_memcmp(current.data(), secret.data(), secret.size()) != 0)
    return kBadToken;
  if (field(a.session, "state") != "dropped") return kStillConnected;
  if (now() - std::strtoll(field(a.session, "dropped_at").c_str(), nullptr, 10) > ttlOf(app)) return kBadToken;
  return nullptr;
}

// A try with a well-formed token; `retried`: the second look, a second after
// the connection still holding the session was closed for this one.
void tryResume(App& app, Fd fd, const std::string& sid, const std::string& secret, bool retried) {
  msw::Store& s = app.store();
  auto a = std::make_shared<Attempt>();
  s.incr(key("tries", sid), 1, [a](StoreResult<int64_t> n) {
    a->tries = n.value;
    if (!n) a->error = n.error;
  });
  s.expire(key("tries", sid), ttlOf(app) + kGrace);
  s.get(key("sid", app.member(fd)), [a](StoreResult<std::optional<std::string>> v) {
    if (v.ok() && *v) a->ownSid = **v;
  });
  s.hgetall(key("session", sid), [&app, fd, a, sid, secret, retried](StoreResult<msw::StrMap> h) {
    if (!h) a->error = h.error;
    a->session = std::move(h.value);
    if (retried && a->ownSid.empty()) return;  // this connection went meanwhile
    const char* why = refusal(app, *a, secret);
    if (why == kStillConnected) {
      // The old connection is open as far as its node knows (a client in a
      // tunnel comes back before heartbeat_timeout noticed): it is closed,
      // and this try looks again once its drop is recorded. Not counted.
      app.store().incr(key("tries", sid), -1);
      if (!retried) {
        app.closeMember(field(a->session, "cid"), msw::kCloseKicked, "resumed elsewhere");
        return app.after(fd, 1, kController, "retry " + std::to_string(fd) + " " + sid + "." + secret);
      }
    }
    if (why) return sendError(app, fd, why);
    std::string claim = key("claim", sid + ":" + secret);
    app.store().incr(claim, 1, [&app, fd, a, sid](StoreResult<int64_t> n) {
      if (!n) return sendError(app, fd, kStoreError);
      if (*n != 1) return sendError(app, fd, kBadToken);  // spent by a reconnect a moment earlier
      adopt(app, fd, sid, a->session, a->ownSid);
    });
    app.store().expire(claim, ttlOf(app) + kGrace);
  });
}

// SID.SECRET, both 32 hex digits: false when `token` is not that.
bool splitToken(std::string_view token, std::string& sid, std::string& secret) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  sid = token.substr(0, dot);
  secret = token.substr(dot + 1);
  return isHex32(sid) && isHex32(secret);
}

}  // namespace

void reconnect(msw::Request& req) {
  std::string token(req.data["token"].str()), sid, secret;
  if (token.empty()) return sendError(req.app, req.fd, kTokenRequired);
  if (!splitToken(token, sid, secret)) return sendError(req.app, req.fd, kBadToken);
  tryResume(req.app, req.fd, sid, secret, false);
}

namespace {

// Where the connection was in each room's stream: the later of its position
// when it joined (or resumed) and the last broadcast of the room written to it.
std::shared_ptr<Json> positions(const msw::StrList& rooms, const msw::StrMap& joinedAt,
                                const std::map<std::string, int64_t>& lastWritten) {
  auto pos = std::make_shared<Json>(Json::object());
  for (const std::string& room : rooms) {
    auto at = joinedAt.find(room);
    int64_t p = at == joinedAt.end() ? 0 : std::strtoll(at->second.c_str(), nullptr, 10);
    if (auto q = lastWritten.find(room); q != lastWritten.end()) p = std::max(p, q->second);
    pos->set(room.c_str(), p);
  }
  return pos;
}

void recordDrop(App& app, Fd fd, const std::string& sid, const std::string& cid, const msw::StrList& in,
                const Json& pos) {
  Json rooms = Json::array();
  for (const std::string& room : in) rooms.push(room);
  msw::Store& s = app.store();
  s.del(key("in", cid));
  s.del(key("at", cid));
  s.del(key("sid", cid));
  if (ttlOf(app) <= 0) return endSession(app, sid, cid, rooms);
  std::string session = key("session", sid);
  s.hset(session, "state", "dropped");
  s.hset(session, "dropped_at", std::to_string(now()));
  s.hset(session, "rooms", rooms.dump());
  s.hset(session, "pos", pos.dump());
  s.expire(session, ttlOf(app) + kGrace);
  app.after(fd, static_cast<int>(ttlOf(app)) + 1, kController, "expire " + sid + " " + cid);
}

}  // namespace

// The close of a connection: its session is kept, with its position in each
// room, for reconnection_ttl (0: ended at once).
void dropped(App& app, const msw::CloseInfo& info) {
  std::string cid = app.member(info.fd);
  Fd fd = info.fd;
  auto written = std::make_shared<std::map<std::string, int64_t>>();
  for (const msw::LastRoomMessage& m : info.lastRoomMessages) {
    Json msg = Json::parse(m.text);
    if (msg["type"].str() == "broadcast") (*written)[std::string(m.room)] = msg["seq"].i64();
  }
  app.store().get(key("sid", cid), [&app, fd, cid, written](StoreResult<std::optional<std::string>> v) {
    if (!v || !*v) return;
    std::string sid = **v;
    app.store().hgetall(key("session", sid), [&app, fd, cid, sid, written](StoreResult<msw::StrMap> h) {
      if (!h || field(*h, "cid") != cid) return;  // resumed elsewhere meanwhile
      auto in = std::make_shared<msw::StrList>();
      app.store().smembers(key("in", cid), [in](StoreResult<msw::StrList> rooms) { *in = std::move(rooms.value); });
      app.store().hgetall(key("at", cid), [&app, fd, cid, sid, written, in](StoreResult<msw::StrMap> at) {
        recordDrop(app, fd, sid, cid, *in, *positions(*in, at.value, *written));
      });
    });
  });
}

// Timers: "expire SID CID", reconnection_ttl after a drop (the session ends
// unless it was resumed), and "retry FD TOKEN" (tryResume).
void onTimer(App& app, std::string_view arg) {
  auto word = [&arg] {
    size_t space = std::min(arg.find(' '), arg.size());
    std::string w(arg.substr(0, space));
    arg.remove_prefix(std::min(space + 1, arg.size()));
    return w;
  };
  std::string kind = word(), a = word(), b = word();
  std::string sid, secret;
  if (kind == "retry" && splitToken(b, sid, secret))
    return tryResume(app, static_cast<Fd>(std::strtoull(a.c_str(), nullptr, 10)), sid, secret, true);
  if (kind != "expire") return;
  app.store().hgetall(key("session", a), [&app, sid = a, cid = b](StoreResult<msw::StrMap> h) {
    if (!h || field(*h, "state") != "dropped" || field(*h, "cid") != cid) return;
    endSession(app, sid, cid, Json::parse(field(*h, "rooms")));
  });
}

}  // namespace rooms
