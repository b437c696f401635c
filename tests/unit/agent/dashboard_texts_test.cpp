#include "agent/dashboard_texts.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/router.h"
#include "http_support.h"

namespace connscope::agent {
namespace {

TEST(DashboardLang, AcceptLanguagePicksTheSupportedOneWithTheHighestQ) {
  EXPECT_EQ(lang_from_accept_language(""), Lang::en);
  EXPECT_EQ(lang_from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::zh_CN);
  EXPECT_EQ(lang_from_accept_language("zh"), Lang::zh_CN);
  EXPECT_EQ(lang_from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::en);
  EXPECT_EQ(lang_from_accept_language("en;q=0.5, zh-CN;q=0.7"), Lang::zh_CN);  // by q, not by order
  EXPECT_EQ(lang_from_accept_language("fr-FR, de;q=0.9, zh-CN;q=0.1"), Lang::zh_CN);  // the first we speak
  EXPECT_EQ(lang_from_accept_language("fr-FR, de;q=0.9"), Lang::en);
  EXPECT_EQ(lang_from_accept_language("zh-CN;q=0, en;q=0.1"), Lang::en);  // q=0: not acceptable
  EXPECT_EQ(lang_from_accept_language("zh-CN;q=0.000"), Lang::en);
  EXPECT_EQ(lang_from_accept_language("*"), Lang::en);
  EXPECT_EQ(lang_from_accept_language("zh-CN;q=junk"), Lang::zh_CN);  // a bad q counts as 1
  EXPECT_EQ(lang_from_accept_language(",,; ;q=,zh-cn"), Lang::zh_CN);
}

TEST(DashboardLang, TheQueryWinsAndAnUnknownOneIsNamed) {
  EXPECT_EQ(*dashboard_lang(std::string("zh-CN"), "en"), Lang::zh_CN);
  EXPECT_EQ(*dashboard_lang(std::string("en"), "zh-CN"), Lang::en);
  EXPECT_EQ(*dashboard_lang(std::nullopt, "zh-CN"), Lang::zh_CN);
  const auto bad = dashboard_lang(std::string("xx"), "zh-CN");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "lang \"xx\": not a supported language (supported: en, zh-CN)");
}

TEST(DashboardTexts, EveryDashboardMessageInTheLanguage) {
  const auto en = dashboard_texts(Lang::en);
  const auto zh = dashboard_texts(Lang::zh_CN);
  EXPECT_EQ(en["lang"], "en");
  EXPECT_EQ(zh["lang"], "zh-CN");
  EXPECT_EQ(zh["languages"], nlohmann::json::parse(R"([{"code":"en","name":"English"},{"code":"zh-CN","name":"中文"}])"));
  int n = 0;
#define CONNSCOPE_DASH_COUNT(id, english) ++n;
  CONNSCOPE_DASHBOARD_MESSAGES(CONNSCOPE_DASH_COUNT)
#undef CONNSCOPE_DASH_COUNT
  EXPECT_EQ(en["texts"].size(), static_cast<std::size_t>(n));
  EXPECT_EQ(zh["texts"].size(), static_cast<std::size_t>(n));
  EXPECT_EQ(en["texts"]["dash_queues_title"], "Accept queues");
  EXPECT_EQ(zh["texts"]["dash_queues_title"], "全连接队列");
  // The page fills {name}s itself: the same names in both.
  EXPECT_EQ(en["texts"]["dash_probe_runs"], "runs: {runs}");
  EXPECT_EQ(zh["texts"]["dash_probe_runs"], "运行：{runs}");
}

TEST(DashboardTexts, TheRouteFollowsTheQueryThenAcceptLanguage) {
  AgentView view;
  HttpRequest r = test::request("GET", "/api/v1/texts");
  r.accept_language = "zh-CN,zh;q=0.9";
  auto res = route(r, view);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(nlohmann::json::parse(res.body)["lang"], "zh-CN");
  r.target = "/api/v1/texts?lang=en";
  res = route(r, view);
  EXPECT_EQ(nlohmann::json::parse(res.body)["lang"], "en");
  r.target = "/api/v1/texts?lang=klingon";
  res = route(r, view);
  EXPECT_EQ(res.status, 400u);
  EXPECT_NE(res.body.find("klingon"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace connscope::agent
