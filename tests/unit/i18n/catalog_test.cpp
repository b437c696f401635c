// The catalogs: po/zh_CN.po translates every message of the lists (and nothing else), the
// committed template is the generated one, and the run-time lookup falls back and picks plural
// forms as the header says.

#include "core/catalog.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/endpoint.h"
#include "core/error_text.h"
#include "core/text.h"
#include "tools/i18n/po.h"

namespace connscope {
namespace {

std::string read(const std::string& path) { return po::read_file(path).value_or(""); }

std::vector<Msg> every_message() {
  std::vector<Msg> all;
#define CONNSCOPE_ALL(id, ...) all.push_back(Msg::id);
  CONNSCOPE_MESSAGES(CONNSCOPE_ALL)
  CONNSCOPE_PLURAL_MESSAGES(CONNSCOPE_ALL)
#undef CONNSCOPE_ALL
  return all;
}

bool has_cjk(std::string_view s) {
  // UTF-8 lead bytes 0xE4..0xE9 start the CJK Unified Ideographs (U+4E00..U+9FFF).
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0xE4 && b <= 0xE9) return true;
  }
  return false;
}

TEST(Catalog, EveryMessageIsTranslatedInZhCnAndNothingIsFuzzyStaleOrObsolete) {
  const auto parsed = po::parse(read(CONNSCOPE_PO_DIR "/zh_CN.po"));
  ASSERT_TRUE(parsed.file) << parsed.error;
  EXPECT_EQ(parsed.file->header.at("Plural-Forms"), "nplurals=1; plural=0;");
  std::map<std::string, const po::Entry*> by_id;
  for (const auto& e : parsed.file->entries) {
    EXPECT_FALSE(e.obsolete) << "line " << e.line << ": obsolete entry " << e.context.value_or("");
    EXPECT_FALSE(e.fuzzy) << "line " << e.line << ": fuzzy entry " << e.context.value_or("");
    ASSERT_TRUE(e.context) << "line " << e.line << ": an entry without msgctxt (the id)";
    if (!e.obsolete) {
      EXPECT_TRUE(by_id.emplace(*e.context, &e).second) << "twice: " << *e.context;
    }
  }
  std::set<std::string> known;
  for (const Msg m : every_message()) {
    const std::string id(msg_id_name(m));
    known.insert(id);
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      ADD_FAILURE() << id << ": not in po/zh_CN.po";
      continue;
    }
    const po::Entry& e = *it->second;
    EXPECT_EQ(e.id, english_template(m, 1)) << id << ": translated from another English (line " << e.line << ")";
    if (is_plural(m)) {
      EXPECT_EQ(e.id_plural.value_or(""), english_plural(m)) << id << ": the plural English differs";
      EXPECT_EQ(e.strs.size(), 1u) << id << ": zh_CN has one plural form";
    } else {
      EXPECT_FALSE(e.id_plural) << id << ": plural in the .po, not in the lists";
    }
    for (const auto& s : e.strs) EXPECT_FALSE(s.empty()) << id << ": not translated";
  }
  for (const auto& [id, e] : by_id) EXPECT_TRUE(known.contains(id)) << id << ": no such message (line " << e->line << ")";
  EXPECT_TRUE(po::check(*parsed.file).empty());
}

TEST(Catalog, TheCommittedTemplateIsTheGeneratedOne) {
  const auto built = read(CONNSCOPE_BUILT_POT);
  ASSERT_FALSE(built.empty());
  EXPECT_TRUE(read(CONNSCOPE_PO_DIR "/connscope.pot") == built)
      << "po/connscope.pot is stale: cmake --build build --target pot";
}

TEST(Catalog, ZhCnIsChineseAndEnglishStaysEnglish) {
  EXPECT_EQ(tr(Lang::en, Msg::serve_port_in_use, "127.0.0.1:80"), "127.0.0.1:80 is already in use");
  const auto zh = tr(Lang::zh_CN, Msg::serve_port_in_use, "127.0.0.1:80");
  EXPECT_TRUE(has_cjk(zh)) << zh;
  EXPECT_NE(zh.find("127.0.0.1:80"), std::string::npos) << zh;
}

TEST(Catalog, TheRunTimeFindsEveryTranslationOfThePoFile) {
  // The compiled .mo beside the build, found from this test's own path, keyed by id and English.
  const auto parsed = po::parse(read(CONNSCOPE_PO_DIR "/zh_CN.po"));
  ASSERT_TRUE(parsed.file) << parsed.error;
  std::map<std::string, std::string> po_text;
  for (const auto& e : parsed.file->entries) {
    if (e.context && !e.strs.empty() && !e.fuzzy) po_text[*e.context] = e.strs[0];
  }
  for (const Msg m : every_message()) {
    const auto it = po_text.find(std::string(msg_id_name(m)));
    if (it == po_text.end() || it->second.empty()) continue;  // the completeness test says so
    EXPECT_EQ(text_template(Lang::zh_CN, m, 1), it->second) << msg_id_name(m);
  }
}

Catalog partial() { return Catalog::load({"/nonexistent", CONNSCOPE_TEST_LOCALE_DIR}, "xx_XX"); }

TEST(Catalog, MissingEmptyFuzzyOrStaleTranslationsFallBackToTheEnglish) {
  const auto c = partial();
  ASSERT_EQ(c.file(), std::filesystem::path(CONNSCOPE_TEST_LOCALE_DIR "/xx_XX/LC_MESSAGES/connscope.mo"));
  EXPECT_EQ(c.text(Msg::help_label_usage), "XX-USAGE");
  EXPECT_EQ(c.text(Msg::help_label_options), "OPTIONS");        // empty msgstr
  EXPECT_EQ(c.text(Msg::help_label_subcommand), "SUBCOMMAND");  // fuzzy: not compiled
  EXPECT_EQ(c.text(Msg::serve_port_in_use), "{} is already in use");  // made for another English
  EXPECT_EQ(c.text(Msg::help_json), english_template(Msg::help_json));  // absent
  const auto none = Catalog::load({"/nonexistent"}, "xx_XX");
  EXPECT_TRUE(none.file().empty());
  EXPECT_EQ(none.text(Msg::help_label_usage), "Usage");
}

TEST(Catalog, PluralFormsFollowTheCatalogsRule) {
  const auto c = partial();
  // partial.po: plural=(n % 10 == 1 && n % 100 != 11 ? 0 : 1), unlike English's n != 1.
  EXPECT_TRUE(c.text(Msg::c_tcp_filtered_summary, 1).starts_with("ONE"));
  EXPECT_TRUE(c.text(Msg::c_tcp_filtered_summary, 21).starts_with("ONE"));
  EXPECT_TRUE(c.text(Msg::c_tcp_filtered_summary, 11).starts_with("MANY"));
  EXPECT_TRUE(c.text(Msg::c_tcp_filtered_summary, 2).starts_with("MANY"));
  EXPECT_TRUE(c.text(Msg::c_tcp_filtered_summary, 10'000'000'001ULL).starts_with("ONE"));
  // A plural message the catalog lacks: English's own rule.
  EXPECT_EQ(c.text(Msg::trace_header, 1), english_template(Msg::trace_header, 1));
  EXPECT_NE(c.text(Msg::trace_header, 1), c.text(Msg::trace_header, 21));
}

TEST(Catalog, TrnPicksTheFormByTheNumber) {
  const auto en1 = trn(Lang::en, Msg::c_tcp_filtered_summary, 1, fmt::arg("endpoint", "h:1"), fmt::arg("syns", 1),
                       fmt::arg("timeout", "3s"));
  const auto en3 = trn(Lang::en, Msg::c_tcp_filtered_summary, 3, fmt::arg("endpoint", "h:1"), fmt::arg("syns", 3),
                       fmt::arg("timeout", "3s"));
  EXPECT_EQ(en1, "h:1: no answer to 1 SYN within 3s");
  EXPECT_EQ(en3, "h:1: no answer to 3 SYNs within 3s");
  EXPECT_EQ(english_template(Msg::c_tcp_filtered_summary, 0), english_plural(Msg::c_tcp_filtered_summary));
  // zh_CN has one form (nplurals=1) for every number.
  for (unsigned long long n : {0ULL, 1ULL, 2ULL, 21ULL}) {
    EXPECT_EQ(text_template(Lang::zh_CN, Msg::c_tcp_filtered_summary, n),
              text_template(Lang::zh_CN, Msg::c_tcp_filtered_summary, 1));
  }
  EXPECT_TRUE(has_cjk(text_template(Lang::zh_CN, Msg::c_tcp_filtered_summary, 5)));
  EXPECT_EQ(plural_count_name(Msg::c_tcp_filtered_summary), "syns");
  EXPECT_EQ(plural_count_name(Msg::serve_port_in_use), "");
}

TEST(Catalog, IdsAreUniqueAcrossBothLists) {
  std::set<std::string_view> ids;
  for (const Msg m : every_message()) EXPECT_TRUE(ids.insert(msg_id_name(m)).second) << msg_id_name(m);
  EXPECT_FALSE(is_plural(Msg::help_app));
  EXPECT_TRUE(is_plural(Msg::trace_header));
}

}  // namespace
// An error made from a message keeps its English as the detail and says itself in the reader's
// language; one made from plain text (a library's words) stays as it is in every language.
TEST(Catalog, ErrorsFromMessagesAreSaidInTheReadersLanguage) {
  const auto port = parse_port("99999", "--port");
  ASSERT_FALSE(port.has_value());
  EXPECT_EQ(port.error().message(), "--port \"99999\": not a port (1-65535)");
  EXPECT_EQ(port.error().message(Lang::en), port.error().message());
  EXPECT_EQ(port.error().message(Lang::zh_CN), "--port \"99999\": 不是合法端口（1-65535）");
  const Error plain{"open x", 2, "a library's words"};
  EXPECT_EQ(plain.message(Lang::zh_CN), plain.message());
  const auto with_args = error_text("--count \"x\"", Msg::in_not_whole_number, {{"min", "1"}, {"max", "9"}});
  EXPECT_EQ(with_args.detail, "not a whole number from 1 to 9");
  EXPECT_EQ(with_args.message(Lang::zh_CN), "--count \"x\": 不是 1 到 9 之间的整数");
}

}  // namespace connscope
