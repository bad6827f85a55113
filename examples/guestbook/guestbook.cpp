// examples/guestbook: the complete module of docs/controllers.md (kept compiling by the build).
#include <ctime>
#include <string>

#include "msw/module.h"

namespace {

std::string historyKey(std::string_view room) { return "guestbook:" + std::string(room) + ":history"; }
std::string membersKey(std::string_view room) { return "guestbook:" + std::string(room) + ":members"; }

void join(msw::Request& r) {
  msw::App& app = r.app;
  app.join(r.fd, r.code);
  app.store().sadd(membersKey(r.code), app.member(r.fd));
  app.fdAddCloseKey(r.fd, membersKey(r.code));   // the set forgets us on close
  app.fdAddController(r.fd, "guestbook.room");   // and onClose below runs
  // The Request is gone when the store answers: later() is the reply that outlives it.
  app.store().lrange(historyKey(r.code), -50, -1, [later = r.later()](msw::StoreResult<msw::StrList> h) {
    if (!later.ok(h)) return;  // 503 storeError
    msw::Json p = msw::Json::object();
    msw::JsonRef lines = p.addArray("history");
    for (const std::string& l : h.value) lines.push(msw::Json::parse(l));
    later.success("joined", "", p);
  });
  msw::Json who = msw::Json::object();
  who.set("nickname", r.auth.nickname);
  msw::Fd self[] = {r.fd};
  app.sendToRoom(r.code, app.message(200, "arrived", "", who), self);
}

void say(msw::Request& r) {
  std::string_view text = r.data["text"].str();
  if (text.empty() || text.size() > 500) return r.error(400, "badRequest", "text: 1 to 500 bytes");
  msw::Json line = msw::Json::object();
  line.set("from", r.auth.nickname).set("text", text).set("at", int64_t(time(nullptr)));
  r.app.store().rpush(historyKey(r.code), line.dump());
  r.app.store().ltrim(historyKey(r.code), -200, -1);
  r.app.sendToRoom(r.code, r.app.message(200, "said", "", line));
  r.success("sent", "");
}

void left(msw::App& app, const msw::CloseInfo& c) {
  msw::Json who = msw::Json::object();
  who.set("nickname", c.auth.nickname);
  app.sendToRoom(c.code, app.message(200, "left", "", who));
}

int init(msw::Module& m) {
  m.controller("room").action("join", join).action("say", say).onClose(left);
  return 0;
}

}  // namespace

MSW_MODULE("guestbook", init, nullptr);
