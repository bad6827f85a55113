#include "framework/connection_limits.h"

namespace msw {

const char* ConnectionLimits::acquire(std::string_view ip, std::string_view user) {
  if (!active()) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  int* ipCount = perIp_ > 0 ? &ips_[std::string(ip)] : nullptr;
  int* userCount = perUser_ > 0 && !user.empty() ? &users_[std::string(user)] : nullptr;
  const char* over = nullptr;
  if (ipCount && *ipCount >= perIp_) over = "too many connections from this address";
  else if (userCount && *userCount >= perUser_) over = "too many connections of this user";
  if (over) {
    // operator[] may just have made a zero entry: leave no trace.
    if (ipCount && *ipCount == 0) ips_.erase(std::string(ip));
    if (userCount && *userCount == 0) users_.erase(std::string(user));
    return over;
  }
  if (ipCount) ++*ipCount;
  if (userCount) ++*userCount;
  return nullptr;
}

void ConnectionLimits::release(std::string_view ip, std::string_view user) {
  if (!active()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (perIp_ > 0) drop(ips_, ip);
  if (perUser_ > 0 && !user.empty()) drop(users_, user);
}

void ConnectionLimits::drop(Counts& counts, std::string_view key) {
  auto it = counts.find(std::string(key));
  if (it != counts.end() && --it->second <= 0) counts.erase(it);
}

}  // namespace msw
