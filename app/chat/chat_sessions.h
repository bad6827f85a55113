// app/chat/chat_sessions.h: who may join a chat session and where its
// messages are kept (docs/chat.md), the two ways: the application's hooks
// (chat.join, chat.message) when [backend] url is set, else sessions
// registered on the manager and messages in the store, per session, with a
// bounded history. Also the seed's texts, which the client shows as they are.
//
// Free functions over msw::App, called on the worker of the connection
// concerned (or, for the manager routes, on the manager's thread); their
// callbacks run later on the same thread. No state of their own.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "msw/module.h"

namespace chat {

// The Workerman server's texts, byte for byte (docs/chat.md#errors).
inline constexpr const char* kConnected = "WebSocket连接成功";
inline constexpr const char* kNoUser = "缺少用户ID";
inline constexpr const char* kNoSession = "缺少会话ID";
inline constexpr const char* kNotAuthed = "未认证";
inline constexpr const char* kNoSessionOrContent = "缺少会话ID或消息内容";
inline constexpr const char* kEmpty = "消息内容不能为空";
inline constexpr const char* kTooLong = "消息内容过长";
inline constexpr const char* kTooFast = "发送消息过于频繁";
inline constexpr const char* kForbidden = "无权限访问该会话";
// msw's own: the original had neither a token nor a store that could fail.
inline constexpr const char* kTokenMismatch = "用户ID与令牌不符";
inline constexpr const char* kUnavailable = "服务器繁忙，请稍后再试";

// An id as a client may send it (a number or a string, 1 to 64 of
// A-Z a-z 0-9 _ . : @ -): its text, or "" when it is absent or not an id.
std::string idText(msw::JsonRef v);
// The id as JSON: a number when it is one (as the original's database ids
// were), else a string.
msw::Json idJson(const std::string& text);

// Calls `done` with nullptr when `user` may join `session`, else the text
// to send. Agents ([chat] agents) may join any session.
using Verdict = std::function<void(const char* error)>;
void authorizeJoin(msw::App& app, msw::Fd fd, const std::string& user, const std::string& session, Verdict done);

// Stores a message (session_id, sender_id, content) and calls `done` with
// nullptr and the stored message (id and created_at added), or the error
// text: then nothing was stored.
using Stored = std::function<void(const char* error, const msw::Json& message)>;
void storeMessage(msw::App& app, msw::Fd fd, msw::Json message, Stored done);

// POST /chat/sessions and GET /chat/messages on the manager port.
void addManagerRoutes(msw::Module& m);

}  // namespace chat
