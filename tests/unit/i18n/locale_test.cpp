#include "core/locale.h"

#include <gtest/gtest.h>

namespace connscope {
namespace {

TEST(Locale, NamesOfLanguages) {
  for (const char* name : {"en", "en_US.UTF-8", "en_GB", "C", "POSIX", "C.UTF-8", "EN"}) {
    EXPECT_EQ(lang_from_name(name), Lang::en) << name;
  }
  for (const char* name : {"zh-CN", "zh_CN", "zh_CN.UTF-8", "zh_CN.utf8", "zh_CN.GB18030", "zh", "ZH-cn",
                           "zh_CN@pinyin"}) {
    EXPECT_EQ(lang_from_name(name), Lang::zh_CN) << name;
  }
  for (const char* name : {"", "xx", "zh_TW.UTF-8", "zh-HK", "fr_FR.UTF-8", "english"}) {
    EXPECT_EQ(lang_from_name(name), std::nullopt) << name;
  }
  EXPECT_EQ(lang_name(Lang::zh_CN), "zh-CN");
  EXPECT_EQ(lang_from_name(lang_name(Lang::zh_CN)), Lang::zh_CN);
}

TEST(Locale, LcAllThenLcMessagesThenLangAndEmptyIsUnset) {
  const std::string zh = "zh_CN.UTF-8";
  const std::string en = "en_US.UTF-8";
  EXPECT_EQ(lang_from_env({}), Lang::en);
  EXPECT_EQ(lang_from_env({std::nullopt, std::nullopt, zh}), Lang::zh_CN);
  EXPECT_EQ(lang_from_env({std::nullopt, zh, en}), Lang::zh_CN);
  EXPECT_EQ(lang_from_env({en, zh, zh}), Lang::en);
  EXPECT_EQ(lang_from_env({zh, en, en}), Lang::zh_CN);
  EXPECT_EQ(lang_from_env({"", "", zh}), Lang::zh_CN);  // empty: skipped (POSIX)
  EXPECT_EQ(lang_from_env({"", zh, en}), Lang::zh_CN);
  EXPECT_EQ(lang_from_env({"C", zh, zh}), Lang::en);    // LC_ALL=C means C
  // The first variable set decides; one we have no catalog for is English, not the next one.
  EXPECT_EQ(lang_from_env({"fr_FR.UTF-8", zh, zh}), Lang::en);
  EXPECT_EQ(lang_from_env({std::nullopt, std::nullopt, "de_DE.UTF-8"}), Lang::en);
}

TEST(Locale, TheFlagWinsAndAnUnknownOneIsAnErrorNamingItAndTheLanguages) {
  const LocaleEnv zh_env{std::nullopt, std::nullopt, "zh_CN.UTF-8"};
  EXPECT_EQ(choose_lang(std::nullopt, zh_env).value(), Lang::zh_CN);
  EXPECT_EQ(choose_lang("en", zh_env).value(), Lang::en);
  EXPECT_EQ(choose_lang("zh-CN", {}).value(), Lang::zh_CN);
  const auto bad = choose_lang("xx", {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "--lang \"xx\": not a supported language (supported: en, zh-CN)");
  const auto bad_zh = choose_lang("fr", zh_env);
  ASSERT_FALSE(bad_zh.has_value());
  EXPECT_EQ(bad_zh.error().op, "--lang \"fr\"");
  EXPECT_NE(bad_zh.error().detail.find("en、zh-CN"), std::string::npos) << bad_zh.error().detail;
}

TEST(Locale, CatalogsBesideAnInstalledBinaryThenInItsBuildTree) {
  const auto never = [](const std::filesystem::path&) { return false; };
  EXPECT_EQ(locale_dirs_for("/usr/bin/connscope", never),
            std::vector<std::filesystem::path>{"/usr/share/locale"});
  const auto build_root = [](const std::filesystem::path& p) { return p == "/src/build"; };
  EXPECT_EQ(locale_dirs_for("/src/build/src/cli/connscope", build_root),
            (std::vector<std::filesystem::path>{"/src/build/src/share/locale", "/src/build/locale"}));
  EXPECT_EQ(locale_dirs_for("/src/build/tests/unit/i18n/unit_i18n", build_root).back(), "/src/build/locale");
}

}  // namespace
}  // namespace connscope
