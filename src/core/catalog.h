#pragma once
// The translations of one language: a gettext .mo compiled from po/<ll_CC>.po at build time,
// read with Boost.Locale's gnu_gettext loader. A message is found by its id (msgctxt) and its
// English (msgid), so a translation made for an English text that has since changed is not used.
// Immutable once loaded: any thread may read it.

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "core/text.h"

namespace connscope {

class Catalog {
 public:
  Catalog();  // empty: every text is the English
  ~Catalog();
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // The catalog `<dir>/<locale>/LC_MESSAGES/connscope.mo` from the first of `dirs` that has one
  // (`locale`: "zh_CN"). None, or one that cannot be read: an empty catalog, so the texts stay
  // English rather than the program failing over a missing translation.
  static Catalog load(const std::vector<std::filesystem::path>& dirs, std::string_view locale);

  // The file it was read from; empty when none was.
  [[nodiscard]] const std::filesystem::path& file() const;

  // The template of `id`: its translation for `n` (the catalog's Plural-Forms pick the form of a
  // plural message; n is ignored for others), or the English when the translation is missing.
  [[nodiscard]] std::string_view text(Msg id, unsigned long long n = 1) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace connscope
