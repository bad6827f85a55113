// msw/json.h: a thin C++ face over cJSON for controllers.
//
// JsonRef is a non-owning view of a node (possibly null: every accessor on a
// null view answers the default); Json owns a tree and frees it. Both are
// header-only so that module plugins need nothing but libcjson.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <climits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace msw {

// Every integer type but bool (and the char types, which read as text): one
// builder for them all, so that int, long, long long, int64_t and their
// unsigned kin each find it without an ambiguous conversion.
template <class T>
concept JsonInteger = std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                       !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t> &&
                       !std::is_same_v<T, wchar_t>;

class JsonRef {
 public:
  JsonRef() = default;
  explicit JsonRef(cJSON* node) : node_(node) {}

  cJSON* raw() const { return node_; }
  explicit operator bool() const { return node_ != nullptr; }

  bool isNull() const { return !node_ || cJSON_IsNull(node_); }
  bool isObject() const { return node_ && cJSON_IsObject(node_); }
  bool isArray() const { return node_ && cJSON_IsArray(node_); }
  bool isString() const { return node_ && cJSON_IsString(node_); }
  bool isNumber() const { return node_ && cJSON_IsNumber(node_); }
  bool isBool() const { return node_ && cJSON_IsBool(node_); }

  std::string_view str(std::string_view fallback = {}) const {
    return isString() ? std::string_view(node_->valuestring) : fallback;
  }
  double num(double fallback = 0) const { return isNumber() ? node_->valuedouble : fallback; }
  // Numbers beyond int64 saturate (a client's 1e300 must not be undefined behaviour).
  int64_t i64(int64_t fallback = 0) const {
    if (!isNumber() || node_->valuedouble != node_->valuedouble) return fallback;
    double d = node_->valuedouble;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return static_cast<int64_t>(d);
  }
  bool boolean(bool fallback = false) const { return isBool() ? cJSON_IsTrue(node_) : fallback; }

  // A string as it is, a number or bool in its JSON spelling: handy for ids,
  // which clients send either way.
  std::string text() const {
    if (isString()) return node_->valuestring;
    if (isNumber()) {
      double d = node_->valuedouble;
      // Only a value in int64's range may be cast: 1e400 (inf) would be undefined behaviour.
      bool inRange = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
      if (inRange && d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
      return std::to_string(d);
    }
    if (isBool()) return cJSON_IsTrue(node_) ? "true" : "false";
    return {};
  }

  // Object member (case-sensitive) or array element; a null view when absent.
  JsonRef operator[](const char* key) const {
    return JsonRef(isObject() ? cJSON_GetObjectItemCaseSensitive(node_, key) : nullptr);
  }
  JsonRef operator[](const std::string& key) const { return (*this)[key.c_str()]; }
  JsonRef at(int index) const { return JsonRef(isArray() ? cJSON_GetArrayItem(node_, index) : nullptr); }
  int size() const { return (isArray() || isObject()) ? cJSON_GetArraySize(node_) : 0; }
  bool has(const char* key) const { return static_cast<bool>((*this)[key]); }
  // The member's name when this view is an element of an object.
  std::string_view key() const { return node_ && node_->string ? node_->string : std::string_view(); }

  class Iterator {
   public:
    explicit Iterator(cJSON* n) : n_(n) {}
    JsonRef operator*() const { return JsonRef(n_); }
    Iterator& operator++() { n_ = n_->next; return *this; }
    bool operator!=(const Iterator& o) const { return n_ != o.n_; }
   private:
    cJSON* n_;
  };
  Iterator begin() const { return Iterator((isArray() || isObject()) ? node_->child : nullptr); }
  Iterator end() const { return Iterator(nullptr); }

  // Compact JSON text; empty for a null view.
  std::string dump() const {
    if (!node_) return {};
    char* s = cJSON_PrintUnformatted(node_);
    std::string out = s ? s : "";
    cJSON_free(s);
    return out;
  }

  // Builders on objects: each replaces a member of the same name and returns
  // *this so calls chain. They do nothing on a view that is not an object.
  // A value is a string (std::string_view, const char*, std::string), a
  // number (any integer type, float or double), a bool, or a JsonRef (copied).
  // Numbers are doubles in cJSON: integers are exact up to 2^53.
  JsonRef& set(const char* key, std::string_view v) { return put(key, cJSON_CreateString(std::string(v).c_str())); }
  JsonRef& set(const char* key, const char* v) { return put(key, cJSON_CreateString(v)); }
  JsonRef& set(const char* key, const std::string& v) { return put(key, cJSON_CreateString(v.c_str())); }
  JsonRef& set(const char* key, double v) { return put(key, cJSON_CreateNumber(v)); }
  template <class T>
    requires JsonInteger<T>
  JsonRef& set(const char* key, T v) {
    return put(key, cJSON_CreateNumber(static_cast<double>(v)));
  }
  JsonRef& set(const char* key, bool v) { return put(key, cJSON_CreateBool(v)); }
  JsonRef& set(const char* key, JsonRef copyOf) {
    return put(key, copyOf ? cJSON_Duplicate(copyOf.node_, 1) : cJSON_CreateNull());
  }
  JsonRef& setNull(const char* key) { return put(key, cJSON_CreateNull()); }
  // Adds an empty object or array member and returns a view of it.
  JsonRef addObject(const char* key) { return putAndView(key, cJSON_CreateObject()); }
  JsonRef addArray(const char* key) { return putAndView(key, cJSON_CreateArray()); }
  void remove(const char* key) {
    if (isObject()) cJSON_DeleteItemFromObjectCaseSensitive(node_, key);
  }

  // Builders on arrays: the same values as set().
  JsonRef& push(std::string_view v) { return append(cJSON_CreateString(std::string(v).c_str())); }
  JsonRef& push(const char* v) { return append(cJSON_CreateString(v)); }
  JsonRef& push(const std::string& v) { return append(cJSON_CreateString(v.c_str())); }
  JsonRef& push(double v) { return append(cJSON_CreateNumber(v)); }
  template <class T>
    requires JsonInteger<T>
  JsonRef& push(T v) {
    return append(cJSON_CreateNumber(static_cast<double>(v)));
  }
  JsonRef& push(bool v) { return append(cJSON_CreateBool(v)); }
  JsonRef& push(JsonRef copyOf) { return append(copyOf ? cJSON_Duplicate(copyOf.node_, 1) : cJSON_CreateNull()); }
  JsonRef pushObject() { cJSON* o = cJSON_CreateObject(); append(o); return JsonRef(isArray() ? o : nullptr); }

 protected:
  cJSON* node_ = nullptr;

 private:
  JsonRef& put(const char* key, cJSON* item) {
    if (!item) return *this;
    if (!isObject()) { cJSON_Delete(item); return *this; }
    if (cJSON_GetObjectItemCaseSensitive(node_, key))
      cJSON_ReplaceItemInObjectCaseSensitive(node_, key, item);
    else
      cJSON_AddItemToObject(node_, key, item);
    return *this;
  }
  JsonRef putAndView(const char* key, cJSON* item) {
    if (!isObject()) { cJSON_Delete(item); return JsonRef(); }
    put(key, item);
    return JsonRef(item);
  }
  JsonRef& append(cJSON* item) {
    if (!item) return *this;
    if (!isArray()) { cJSON_Delete(item); return *this; }
    cJSON_AddItemToArray(node_, item);
    return *this;
  }
};

// An owned tree. Copies are deep (so a Json can be captured by the
// callbacks of msw/store.h, which must be copyable).
class Json : public JsonRef {
 public:
  Json() = default;
  explicit Json(cJSON* adopt) : JsonRef(adopt) {}
  Json(const Json& o) : JsonRef(o.node_ ? cJSON_Duplicate(o.node_, 1) : nullptr) {}
  Json& operator=(const Json& o) {
    if (this != &o) {
      reset();
      node_ = o.node_ ? cJSON_Duplicate(o.node_, 1) : nullptr;
    }
    return *this;
  }
  Json(Json&& o) noexcept : JsonRef(std::exchange(o.node_, nullptr)) {}
  Json& operator=(Json&& o) noexcept {
    if (this != &o) { reset(); node_ = std::exchange(o.node_, nullptr); }
    return *this;
  }
  ~Json() { reset(); }

  static Json object() { return Json(cJSON_CreateObject()); }
  static Json array() { return Json(cJSON_CreateArray()); }
  static Json string(std::string_view s) { return Json(cJSON_CreateString(std::string(s).c_str())); }
  static Json number(double d) { return Json(cJSON_CreateNumber(d)); }
  static Json copy(JsonRef of) { return Json(of ? cJSON_Duplicate(of.raw(), 1) : nullptr); }
  // Parses text; a null Json when it is not valid JSON.
  static Json parse(std::string_view text) { return Json(cJSON_ParseWithLength(text.data(), text.size())); }

  cJSON* release() { return std::exchange(node_, nullptr); }
  void reset() {
    if (node_) cJSON_Delete(node_);
    node_ = nullptr;
  }
};

}  // namespace msw
