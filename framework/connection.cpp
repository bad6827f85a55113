#include "framework/connection.h"

#include <algorithm>
#include <cstdint>

namespace msw {

AuthData::AuthData(std::string_view json, std::string_view id, std::string_view type, std::string_view code,
                   std::string_view nickname) {
  std::string_view parts[5] = {json, id, type, code, nickname};
  size_t total = 0;
  for (int i = 0; i < 5; ++i) {
    len_[i] = static_cast<uint16_t>(std::min<size_t>(parts[i].size(), UINT16_MAX));
    total += len_[i];
  }
  if (total == 0) return;
  blob_ = std::make_unique_for_overwrite<char[]>(total);
  char* out = blob_.get();
  for (int i = 0; i < 5; ++i) out = std::copy_n(parts[i].data(), len_[i], out);
}

std::string_view AuthData::part(int i) const {
  size_t off = 0;
  for (int k = 0; k < i; ++k) off += len_[k];
  return blob_ ? std::string_view(blob_.get() + off, len_[i]) : std::string_view();
}

Auth AuthData::view() const { return Auth{part(1), part(2), part(3), part(4), part(0)}; }

}  // namespace msw
