#include "core/text.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/catalog.h"
#include "core/locale.h"

namespace connscope {

namespace {

// Every view is a string literal, so null-terminated (Catalog::text relies on it).
struct English {
  std::string_view id;
  std::string_view one;    // the template; a plural message's singular
  std::string_view many;   // a plural message's plural; empty otherwise
  std::string_view count;  // the placeholder whose number picks the form
};

constexpr std::array kEnglish{
#define CONNSCOPE_MSG_EN(id, en) English{#id, en, {}, {}},
#define CONNSCOPE_PLURAL_EN(id, count, one, many) English{#id, one, many, #count},
    CONNSCOPE_MESSAGES(CONNSCOPE_MSG_EN)
    CONNSCOPE_PLURAL_MESSAGES(CONNSCOPE_PLURAL_EN)
#undef CONNSCOPE_PLURAL_EN
#undef CONNSCOPE_MSG_EN
};

const English& english(Msg id) { return kEnglish[static_cast<std::size_t>(id)]; }

// The zh_CN catalog of this process, read on first use from beside the executable. The one piece
// of process-wide state in core, and read-only once made (a function-local static: thread-safe
// initialisation); the alternative, a catalog passed to every tr() call, would thread it through
// every module for data that never changes while the program runs.
const Catalog& process_catalog(Lang lang) {
  static const Catalog empty;
  if (lang != Lang::zh_CN) return empty;
  static const Catalog zh_cn = Catalog::load(locale_dirs_of_this_program(), "zh_CN");
  return zh_cn;
}

}  // namespace

std::string_view msg_id_name(Msg id) { return english(id).id; }

std::string_view plural_count_name(Msg id) { return english(id).count; }

std::string_view english_template(Msg id, unsigned long long n) {
  const auto& e = english(id);
  return (e.many.empty() || n == 1) ? e.one : e.many;
}

std::string_view english_plural(Msg id) { return english(id).many; }

std::string_view text_template(Lang lang, Msg id) { return text_template(lang, id, 1); }

std::string_view text_template(Lang lang, Msg id, unsigned long long n) {
  if (lang == Lang::en) return english_template(id, n);
  return process_catalog(lang).text(id, n);
}

std::optional<Lang> lang_from_name(std::string_view name) {
  // "zh_CN.UTF-8@modifier": the encoding and the modifier do not change the language.
  std::string base(name.substr(0, name.find_first_of(".@")));
  std::ranges::transform(base, base.begin(), [](unsigned char c) {
    return c == '-' ? '_' : static_cast<char>(std::tolower(c));
  });
  if (base == "c" || base == "posix" || base == "en" || base.starts_with("en_")) return Lang::en;
  // Simplified Chinese only: zh_TW and zh_HK write Traditional characters.
  if (base == "zh" || base == "zh_cn") return Lang::zh_CN;
  return std::nullopt;
}

std::string_view lang_name(Lang lang) {
  switch (lang) {
    case Lang::en:
      return "en";
    case Lang::zh_CN:
      return "zh-CN";
  }
  return "en";
}

}  // namespace connscope
