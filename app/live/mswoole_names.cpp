// app/live/mswoole_names.cpp: MSwoole Live's shapes (see mswoole_names.h).
#include "mswoole_names.h"

#include <cstdlib>

namespace live {

msw::Json userSayParam(msw::JsonRef stored) {
  msw::Json p = msw::Json::object();
  p.set("id", stored["id"]).set("nickname", stored["nickname"].str()).set("say", stored["content"].str());
  return p;
}

msw::Json wallSayParam(std::string_view code, msw::JsonRef stored) {
  msw::Json p = msw::Json::object();
  p.set("code", code).set("nickname", stored["nickname"].str()).set("say", stored["content"].str());
  p.set("user_id", stored["uid"].str()).set("id", stored["id"]);
  return p;
}

msw::Json keyedById(const std::vector<std::string>& stored, std::string_view code, bool announcements) {
  msw::Json all = msw::Json::object();
  for (const std::string& text : stored) {
    msw::Json m = msw::Json::parse(text);
    if (!m) continue;
    std::string id = m["id"].text();
    all.set(id.c_str(), announcements ? wallSayParam(code, m) : userSayParam(m));
  }
  return all;
}

bool approves(msw::JsonRef status) {
  if (status.isBool()) return status.boolean();
  if (status.isNumber()) return status.num() != 0;
  std::string_view s = status.str();
  return !s.empty() && s != "0";
}

msw::Json idParam(std::string_view id) {
  return msw::Json::number(static_cast<double>(std::atoll(std::string(id).c_str())));
}

}  // namespace live
