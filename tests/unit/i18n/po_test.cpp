#include "tools/i18n/po.h"

#include <gtest/gtest.h>

#include <string>

namespace connscope::po {
namespace {

std::string read(const std::string& path) { return po::read_file(path).value_or(""); }

TEST(Po, ParsesContextsPluralsContinuationsFlagsAndObsoleteEntries) {
  const auto r = parse(
      "msgid \"\"\n"
      "msgstr \"\"\n"
      "\"Plural-Forms: nplurals=1; plural=0;\\n\"\n"
      "\n"
      "#. a comment\n"
      "msgctxt \"a\"\n"
      "msgid \"\"\n"
      "\"two\\n\"\n"
      "\"lines \\\"quoted\\\"\"\n"
      "msgstr \"x\"\n"
      "#, fuzzy, no-c-format\n"
      "msgctxt \"b\"\n"
      "msgid \"one\"\n"
      "msgid_plural \"many\"\n"
      "msgstr[0] \"y\"\n"
      "\n"
      "#~ msgctxt \"old\"\n"
      "#~ msgid \"gone\"\n"
      "#~ msgstr \"z\"\n");
  ASSERT_TRUE(r.file) << r.error;
  const auto& f = *r.file;
  EXPECT_EQ(f.header.at("Plural-Forms"), "nplurals=1; plural=0;");
  ASSERT_EQ(f.entries.size(), 3u);
  EXPECT_EQ(f.entries[0].context, "a");
  EXPECT_EQ(f.entries[0].id, "two\nlines \"quoted\"");
  EXPECT_EQ(f.entries[0].strs, std::vector<std::string>{"x"});
  EXPECT_FALSE(f.entries[0].fuzzy);
  EXPECT_EQ(f.entries[1].context, "b");
  EXPECT_EQ(f.entries[1].id_plural, "many");
  EXPECT_TRUE(f.entries[1].fuzzy);
  EXPECT_EQ(f.entries[1].line, 12);
  EXPECT_TRUE(f.entries[2].obsolete);
  EXPECT_EQ(f.entries[2].strs, std::vector<std::string>{"z"});
}

TEST(Po, RejectsWhatItCannotRead) {
  EXPECT_FALSE(parse("msgid \"a\"\nmsgstr \"b\" \"c\"\n").file);
  EXPECT_FALSE(parse("msgid \"a\"\nmsgstr[1] \"b\"\n").file);
  EXPECT_FALSE(parse("msgfoo \"a\"\n").file);
  const auto r = parse("msgid \"a\"\n\"b\"\nmsgstr \"bad \\q\"\n");
  ASSERT_FALSE(r.file);
  EXPECT_EQ(r.error, "line 3: not a string: msgstr \"bad \\q\"");
}

TEST(Po, PlaceholdersSeparateNamedFromPositionalAndIgnoreDoubledBraces) {
  const auto p = placeholders("{b} {{literal}} {} {a:<22} {:>8} {x:{w}}");
  EXPECT_EQ(p.named, (std::vector<std::string>{"{a:<22}", "{b}", "{x:{w}}"}));
  EXPECT_EQ(p.positional, (std::vector<std::string>{"{}", "{:>8}"}));
  EXPECT_TRUE(p.error.empty());
  EXPECT_FALSE(placeholders("{open").error.empty());
  EXPECT_FALSE(placeholders("close}").error.empty());
}

TEST(Po, CompareIsTheRuleTheBuildApplies) {
  EXPECT_EQ(compare("{a} and {b}", "{b} 和 {a}"), "");
  EXPECT_EQ(compare("{} then {}", "{} 然后 {}"), "");
  EXPECT_NE(compare("{a}", "{A}"), "");
  EXPECT_NE(compare("{a:<22}", "{a}"), "");
  EXPECT_NE(compare("{a}", "{a} {a}"), "");  // a count, not a set
  EXPECT_NE(compare("{} {}", "{}"), "");
  EXPECT_NE(compare("{:>8} {}", "{} {:>8}"), "");
  EXPECT_NE(compare("line\n", "line"), "");
  EXPECT_EQ(compare("{{x}}", "{{y}}"), "");
}

TEST(Po, CheckRejectsEveryRecordedBadEntryAndNothingElse) {
  const auto r = parse(read(CONNSCOPE_I18N_FIXTURES "/bad_placeholders.po"));
  ASSERT_TRUE(r.file) << r.error;
  const auto problems = check(*r.file);
  std::vector<std::string> bad;
  for (const auto& p : problems) bad.push_back(p.context);
  EXPECT_EQ(bad, (std::vector<std::string>{"serve_port_in_use", "serve_demo_line", "serve_fd_limit",
                                           "positional_order", "brace", "c_tcp_filtered_summary"}));
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0].line, 8);
  EXPECT_EQ(problems[0].what, "named placeholders differ: English {addr}, translation {address}");
  EXPECT_EQ(problems.back().what,
            "msgstr[0]: named placeholders differ: English {endpoint} {syns} {timeout}, translation "
            "{endpoint} {timeout}");
}

TEST(Po, PotEntriesAreWhatMsgfmtReadsBack) {
  EXPECT_EQ(pot_entry("id", "say \"hi\"\\", std::nullopt, ""),
            "msgctxt \"id\"\nmsgid \"say \\\"hi\\\"\\\\\"\nmsgstr \"\"\n");
  const auto plural = pot_entry("p", "one\nand more", std::string_view("many"), "{n} picks");
  EXPECT_EQ(plural,
            "#. {n} picks\nmsgctxt \"p\"\nmsgid \"\"\n\"one\\n\"\n\"and more\"\nmsgid_plural \"many\"\n"
            "msgstr[0] \"\"\nmsgstr[1] \"\"\n");
  const auto back = parse(plural);
  ASSERT_TRUE(back.file) << back.error;
  EXPECT_EQ(back.file->entries.at(0).id, "one\nand more");
}

}  // namespace
}  // namespace connscope::po
