// library/config_text.h: how the config file spells its values: names
// compared without case, blanks trimmed, integers, sizes with k/m/g, bools
// in six spellings, lists joined back, paths made absolute. Pure functions,
// any thread; used by config.cpp's reader and its messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace msw::config_text {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kGiB = 1024 * kMiB;

char lowerAscii(char ch);
bool iequals(std::string_view a, std::string_view b);
std::string_view trim(std::string_view s);
// "64m" rather than 67108864 when the number is a whole unit: easier to read in a message.
std::string sizeText(int64_t bytes);
// "a, b, c"
std::string join(std::span<const std::string> items);
std::string join(std::span<const char* const> items);

// Each answers nullopt for text that is not a value of its kind.
std::optional<int64_t> parseInteger(std::string_view s);
std::optional<int64_t> parseSize(std::string_view s);  // a k, m or g suffix (any case) for KiB, MiB, GiB
std::optional<bool> parseBool(std::string_view s);     // true yes on 1 / false no off 0, any case

// Lexically normal, without a trailing separator.
std::filesystem::path normalPath(const std::filesystem::path& p);
// Absolute against the current directory ("." when empty), normal.
std::filesystem::path absolutePath(const std::string& p);

}  // namespace msw::config_text
