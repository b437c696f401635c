#include "core/text.h"

#include <array>

namespace connscope {

namespace {

constexpr std::array kEnglish{
#define CONNSCOPE_MSG_EN(id, en) std::string_view{en},
    CONNSCOPE_MESSAGES(CONNSCOPE_MSG_EN)
#undef CONNSCOPE_MSG_EN
};

}  // namespace

std::string_view text_template(Lang lang, Msg id) {
  switch (lang) {
    case Lang::en:
      break;
  }
  return kEnglish[static_cast<std::size_t>(id)];
}

bool parse_lang(std::string_view name, Lang& out) {
  // Locale names look like "en_US.UTF-8"; only the language part matters.
  const auto base = name.substr(0, name.find_first_of("_.@"));
  if (base == "en" || base == "C" || base == "POSIX") {
    out = Lang::en;
    return true;
  }
  return false;
}

}  // namespace connscope
