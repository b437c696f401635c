// The language of the real binary: chosen by the environment (LANG=zh_CN.UTF-8 gives Chinese
// help on a machine with no zh_CN locale generated) or --lang, whose unknown value is a usage
// error naming it and the languages there are.

#include <gtest/gtest.h>

#include "support/process.h"

namespace connscope::test {
namespace {

// connscope with exactly these locale variables (the others unset), through env(1).
CmdResult cs_env(const std::vector<std::string>& env, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/env", "-u", "LC_ALL", "-u", "LC_MESSAGES", "-u", "LANG", "-u", "LANGUAGE"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(CONNSCOPE_BIN);
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 20s);
}

TEST(I18nCli, LangZhCnGivesChineseHelp) {
  const auto r = cs_env({"LANG=zh_CN.UTF-8"}, {"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("用法: connscope [选项] [子命令]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("显示本帮助信息并退出"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("子命令:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Usage"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Print this help"), std::string::npos) << r.out;
  // A subcommand's help too: its texts come from the command's setup in the chosen language.
  const auto doctor = cs_env({"LANG=zh_CN.UTF-8"}, {"doctor", "--help"});
  EXPECT_EQ(doctor.exit_code, 0) << doctor.err;
  EXPECT_NE(doctor.out.find("为什么连不上"), std::string::npos) << doctor.out;
}

TEST(I18nCli, LcAllWinsOverLangAndTheFlagWinsOverBoth) {
  const auto en = cs_env({"LC_ALL=C", "LANG=zh_CN.UTF-8"}, {"--help"});
  EXPECT_NE(en.out.find("Usage: connscope"), std::string::npos) << en.out;
  const auto zh = cs_env({"LC_ALL=", "LC_MESSAGES=zh_CN.UTF-8", "LANG=C"}, {"--help"});
  EXPECT_NE(zh.out.find("用法"), std::string::npos) << zh.out;
  const auto flag = cs_env({"LC_ALL=zh_CN.UTF-8"}, {"--help", "--lang", "en"});
  EXPECT_NE(flag.out.find("Usage: connscope"), std::string::npos) << flag.out;
  const auto flag_zh = cs_env({}, {"--lang=zh-CN", "--help"});
  EXPECT_NE(flag_zh.out.find("用法"), std::string::npos) << flag_zh.out;
}

TEST(I18nCli, UnknownLangIsAUsageErrorListingTheLanguages) {
  const auto r = cs_env({}, {"--lang", "xx", "serve"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "connscope: --lang \"xx\": not a supported language (supported: en, zh-CN)\n");
  // Before --help is honoured, and in the environment's language.
  const auto zh = cs_env({"LANG=zh_CN.UTF-8"}, {"--help", "--lang", "fr"});
  EXPECT_EQ(zh.exit_code, 2);
  EXPECT_EQ(zh.err, "connscope: --lang \"fr\": 不支持的语言（支持：en、zh-CN）\n");
  // An unknown locale in the environment is English, silently.
  const auto env = cs_env({"LANG=fr_FR.UTF-8"}, {"--help"});
  EXPECT_EQ(env.exit_code, 0);
  EXPECT_EQ(env.err, "");
  EXPECT_NE(env.out.find("Usage: connscope"), std::string::npos);
}

// Usage errors in the reader's language: CLI11's own (an argument too many, an option without its
// value, a value that does not convert) and connscope's parsers of what a person types (ports,
// durations, targets); the input they name stays as typed. English is unchanged but for CLI11's
// "1 required PORT missing", now a sentence.
TEST(I18nCli, UsageErrorsAreSaidInTheChosenLanguage) {
  const std::pair<std::vector<std::string>, std::pair<const char*, const char*>> cases[] = {
      {{"doctor", "127.0.0.1", "extra"},
       {"connscope: The following argument was not expected: extra (see connscope --help)\n",
        "connscope：多余的参数：extra（参见 connscope --help）\n"}},
      {{"doctor", "127.0.0.1", "--port"},
       {"connscope: --port needs a value (PORT) (see connscope --help)\n",
        "connscope：--port 需要一个值（PORT）（参见 connscope --help）\n"}},
      {{"inspect", "--port", "99999"},
       {"connscope: --port \"99999\": not a port (1-65535)\n", "connscope：--port \"99999\": 不是合法端口（1-65535）\n"}},
      {{"--timeout", "3x", "doctor", "127.0.0.1:80"},
       {"connscope: --timeout \"3x\": unknown unit (use ns, us, ms, s, m, h or d)\n",
        "connscope：--timeout \"3x\": 未知的时间单位（可用 ns、us、ms、s、m、h 或 d）\n"}},
      {{"--timeout", "0", "doctor", "127.0.0.1:80"},
       {"connscope: --timeout \"0\": must be more than 0\n", "connscope：--timeout \"0\": 必须大于 0\n"}},
      {{"doctor", "user@example.com"},
       {"connscope: target \"user@example.com\": user names and passwords (user@host) are not accepted: "
        "connscope never sends credentials; leave out the part before '@'\n",
        "connscope：target \"user@example.com\": 不接受用户名和密码（user@host）：connscope 从不发送凭据；"
        "请去掉 '@' 之前的部分\n"}},
  };
  for (const auto& [args, want] : cases) {
    const auto en = cs_env({}, args);
    EXPECT_EQ(en.exit_code, 2) << args[0];
    EXPECT_EQ(en.err, want.first);
    auto zh_args = args;
    zh_args.insert(zh_args.begin(), {"--lang", "zh-CN"});
    const auto zh = cs_env({}, zh_args);
    EXPECT_EQ(zh.exit_code, 2) << args[0];
    EXPECT_EQ(zh.err, want.second);
  }
}

}  // namespace
}  // namespace connscope::test
