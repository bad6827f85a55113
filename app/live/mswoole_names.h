// app/live/mswoole_names.h: how the live module speaks to connections of a
// `flavor = mswoole` endpoint: MSwoole Live's rooms, request fields and
// param shapes (docs/migrating-from-mswoole.md). Pure functions of their
// arguments; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "msw/module.h"

namespace live {

inline bool isMswoole(std::string_view flavor) { return flavor == "mswoole"; }

// {id, nickname, say}: an attendee's message, from the JSON msw stores.
msw::Json userSayParam(msw::JsonRef stored);
// {code, nickname, say, user_id, id}: an announcement, from the JSON msw stores.
msw::Json wallSayParam(std::string_view code, msw::JsonRef stored);
// Stored messages as one object keyed by id, each in the shape above.
msw::Json keyedById(const std::vector<std::string>& stored, std::string_view code, bool announcements);

// MSwoole's check approves when `status` is not empty in PHP's sense:
// absent, null, false, "", "0" and 0 reject, anything else approves.
bool approves(msw::JsonRef status);

// A message id as MSwoole sends it: a number.
msw::Json idParam(std::string_view id);

}  // namespace live
