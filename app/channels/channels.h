// app/channels/channels.h: what the channels module's client controller and
// its manager routes share (docs/laravel.md): channel names and their rooms,
// the {"type","data"} frames, the module's settings.
//
// Plain functions, no state: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "msw/module.h"

namespace channels {

constexpr size_t kMaxChannelName = 64;

// A channel is the room "channel:NAME": the prefix keeps channels apart from
// the rooms of other modules (a token's room code, say).
std::string roomOf(std::string_view channel);

// "" when `name` may be a channel (1 to 64 of A-Z a-z 0-9 _ - . :), else why not.
std::string badChannel(msw::JsonRef name);

// The frame {"type":TYPE,"data":DATA} (DATA null: {}).
msw::Payload frame(msw::App& app, std::string_view type, msw::JsonRef data);

// A user id as Laravel writes it: a number when it is a plain integer
// (up to 2^53, exact in JavaScript), a string otherwise.
msw::Json userId(std::string_view id);

// Seconds since 1970, as Laravel-S's time().
int64_t now();

// [channels] and [outside] settings, as of the latest reload.
int64_t maxChannels(msw::App& app);
bool clientBroadcast(msw::App& app);
// The largest frame a push may be: half the send queue, so that one message
// cannot fill a client's queue by itself and close it 4009.
size_t maxFrame(msw::App& app);

// Registers the twelve /admin/websocket/ routes (admin_routes.cpp).
void addAdminRoutes(msw::Module& m);

}  // namespace channels
