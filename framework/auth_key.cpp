#include "framework/auth_key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "library/log.h"
#include "library/token_codec.h"

namespace msw {

bool loadOrCreateAuthKey(const Config& cfg, std::string& key, std::string& error) {
  if (!cfg.authKey.empty()) {
    key = cfg.authKey;
    return true;
  }
  std::string dir = cfg.root + "/runtime";
  std::string path = dir + "/auth.key";
  std::ifstream in(path);
  if (in && std::getline(in, key) && !key.empty()) return true;
  key = base64UrlEncode(randomBytes(32));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // O_EXCL: two first starts racing must not end up with two keys.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    std::ifstream again(path);
    if (again && std::getline(again, key) && !key.empty()) return true;
  }
  std::string line = key + "\n";
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  LOG_INFO("made a new auth key in %s", path.c_str());
  return true;
}

}  // namespace msw
