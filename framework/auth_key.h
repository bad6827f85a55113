// framework/auth_key.h: the secret that tokens are made with.
#pragma once

#include <string>

#include "library/config.h"

namespace msw {

// [auth] key when set; else the key in ROOT/runtime/auth.key, made (32
// random bytes, mode 0600) the first time anyone needs it. Never a key
// shipped in the repository.
bool loadOrCreateAuthKey(const Config& cfg, std::string& key, std::string& error);

}  // namespace msw
