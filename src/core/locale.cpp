#include "core/locale.h"

#include <cstdlib>

namespace connscope {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

LocaleEnv locale_env_from_process() { return {env("LC_ALL"), env("LC_MESSAGES"), env("LANG")}; }

Lang lang_from_env(const LocaleEnv& e) {
  for (const auto* v : {&e.lc_all, &e.lc_messages, &e.lang}) {
    if (!v->has_value() || (*v)->empty()) continue;
    return lang_from_name(**v).value_or(Lang::en);
  }
  return Lang::en;
}

Result<Lang> choose_lang(const std::optional<std::string>& flag, const LocaleEnv& e) {
  if (!flag) return lang_from_env(e);
  if (auto lang = lang_from_name(*flag)) return *lang;
  return fail("--lang \"" + *flag + "\"", tr(lang_from_env(e), Msg::unknown_lang));
}

std::vector<std::filesystem::path> locale_dirs_for(
    const std::filesystem::path& exe, const std::function<bool(const std::filesystem::path&)>& is_build_root) {
  std::vector<std::filesystem::path> dirs;
  const auto bin = exe.parent_path();
  dirs.push_back((bin / ".." / "share" / "locale").lexically_normal());
  for (auto dir = bin; !dir.empty(); dir = dir.parent_path()) {
    if (is_build_root(dir)) {
      dirs.push_back(dir / "locale");
      break;
    }
    if (dir == dir.parent_path()) break;
  }
  return dirs;
}

std::vector<std::filesystem::path> locale_dirs_of_this_program() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return locale_dirs_for(exe, [](const std::filesystem::path& dir) {
    std::error_code e;
    return std::filesystem::is_regular_file(dir / "CMakeCache.txt", e);
  });
}

}  // namespace connscope
