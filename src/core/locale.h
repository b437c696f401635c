#pragma once
// Which language to speak, and where the compiled catalogs are: the choices main() makes once,
// as pure functions of what it read (the environment, the executable's path).

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/text.h"

namespace connscope {

// The locale variables that choose the language, as the environment has them (nullopt: unset).
struct LocaleEnv {
  std::optional<std::string> lc_all;
  std::optional<std::string> lc_messages;
  std::optional<std::string> lang;
};

// The process's LC_ALL, LC_MESSAGES and LANG.
LocaleEnv locale_env_from_process();

// The language of messages from the environment: LC_ALL, then LC_MESSAGES, then LANG; the first
// that is set and not empty decides (POSIX), and a locale we have no catalog for is English.
Lang lang_from_env(const LocaleEnv& env);

// --lang when given (it must name a supported language: a usage error naming it otherwise),
// else the environment.
Result<Lang> choose_lang(const std::optional<std::string>& flag, const LocaleEnv& env);

// Where compiled catalogs (<dir>/<ll_CC>/LC_MESSAGES/connscope.mo) are looked for, in order, for
// the program at `exe`: `<exe dir>/../share/locale` (an installed binary) and `<build>/locale`,
// where <build> is the nearest folder above `exe` for which `is_build_root` says yes (the real
// check: it holds CMakeCache.txt), so that the tests and `make run` find the catalogs of their
// own build tree from a fresh checkout.
std::vector<std::filesystem::path> locale_dirs_for(
    const std::filesystem::path& exe, const std::function<bool(const std::filesystem::path&)>& is_build_root);

// locale_dirs_for(/proc/self/exe) with the real check.
std::vector<std::filesystem::path> locale_dirs_of_this_program();

}  // namespace connscope
