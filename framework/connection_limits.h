// framework/connection_limits.h: [outside] max_connections_per_ip and
// max_connections_per_user, counted over the whole node.
//
// Every worker asks before an upgrade (acquire) and tells when a counted
// connection ends (release), so the counts are shared and locked; with both
// limits 0 (the default) nothing is counted and no lock is taken.
// Lifetime: a member of Server; any worker thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace msw {

class ConnectionLimits {
 public:
  ConnectionLimits(int perIp, int perUser) : perIp_(perIp), perUser_(perUser) {}

  bool active() const { return perIp_ > 0 || perUser_ > 0; }
  // Counts one more connection from ip for user (an empty user is not
  // counted), or counts nothing and returns which limit it would pass.
  const char* acquire(std::string_view ip, std::string_view user);
  void release(std::string_view ip, std::string_view user);

 private:
  using Counts = std::unordered_map<std::string, int>;
  static void drop(Counts& counts, std::string_view key);

  const int perIp_;
  const int perUser_;
  std::mutex mutex_;
  Counts ips_;    // guarded by mutex_
  Counts users_;  // guarded by mutex_
};

}  // namespace msw
