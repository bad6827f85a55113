// framework/token_probe.h: the answer to a plain HTTP GET that carries an
// `auth` argument on the outside port. A browser cannot read the status of a
// refused WebSocket handshake (it sees close 1006 either way), so msw.js asks
// again over HTTP with the same token and gets the 403 the handshake got
// (docs/client.md, "A refused link"). Stateless; runs on the worker's thread.
#pragma once

struct lws;

namespace msw {

struct Config;
class TokenCodec;

// When the request's query has `auth=` and that token would be refused at
// the handshake, writes the same 403 JSON body and returns true (the caller
// then closes). False otherwise: the request goes on to static_dir as usual.
bool answerTokenProbe(lws* wsi, const TokenCodec& codec, const Config& cfg);

}  // namespace msw
