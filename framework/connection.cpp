#include "framework/connection.h"

namespace msw {

AuthData::AuthData(std::string_view json, std::string_view id, std::string_view type, std::string_view code,
                   std::string_view nickname) {
  std::string_view parts[5] = {json, id, type, code, nickname};
  size_t total = 0;
  for (auto p : parts) total += p.size();
  blob_.reserve(total);
  for (int i = 0; i < 5; ++i) {
    blob_.append(parts[i]);
    len_[i] = static_cast<uint32_t>(parts[i].size());
  }
}

std::string_view AuthData::part(int i) const {
  size_t off = 0;
  for (int k = 0; k < i; ++k) off += len_[k];
  return std::string_view(blob_).substr(off, len_[i]);
}

Auth AuthData::view() const { return Auth{part(1), part(2), part(3), part(4), part(0)}; }

}  // namespace msw
