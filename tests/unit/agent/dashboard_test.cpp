// The embedded dashboard: every path the page uses is served, with the right type and the bytes
// of web/ (the generated source is compared with the files it came from), and nothing else is.
#include "agent/dashboard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace connscope::agent {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// CMake compiles with absolute paths: web/ is three folders up from this file.
const std::filesystem::path kWeb = CONNSCOPE_WEB_DIR;

TEST(Dashboard, ServesThePageAndItsFilesWithTheirTypes) {
  const std::pair<const char*, const char*> rows[] = {
      {"/", "text/html; charset=utf-8"},
      {"/index.html", "text/html; charset=utf-8"},
      {"/assets/app.js", "text/javascript; charset=utf-8"},
      {"/assets/style.css", "text/css; charset=utf-8"},
      {"/assets/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
      {"/assets/uPlot.min.css", "text/css; charset=utf-8"},
  };
  for (const auto& [path, type] : rows) {
    const DashboardAsset* a = dashboard_asset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_EQ(a->content_type, type) << path;
    EXPECT_FALSE(a->body.empty()) << path;
    EXPECT_EQ(a->etag.size(), 18u) << path;  // "<16 hex digits>"
    EXPECT_EQ(a->etag.front(), '"');
    EXPECT_EQ(a->etag.back(), '"');
  }
  EXPECT_EQ(dashboard_asset("/"), dashboard_asset("/index.html"));
}

TEST(Dashboard, NothingElse) {
  for (const char* path : {"", "/app.js", "/assets/", "/assets/nope.js", "/assets/../index.html",
                           "/index.html/", "/INDEX.HTML", "/api/v1/snapshot"}) {
    EXPECT_EQ(dashboard_asset(path), nullptr) << path;
  }
}

TEST(Dashboard, BodiesAreTheSourceFilesByteForByte) {
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const std::string want = read(kWeb / name);
    ASSERT_FALSE(want.empty()) << name;
    const std::string path = std::string(name) == "index.html" ? "/index.html" : std::string("/assets/") + name;
    EXPECT_EQ(dashboard_asset(path)->body, want) << name;
  }
  EXPECT_TRUE(dashboard_asset("/assets/uPlot.iife.min.js")->body.starts_with("/*! https://github.com/leeoniya/uPlot"));
}

TEST(Dashboard, EtagsDifferPerFile) {
  std::set<std::string_view> etags;
  for (const DashboardAsset& a : dashboard_assets()) etags.insert(a.etag);
  EXPECT_EQ(etags.size(), dashboard_assets().size());
  EXPECT_EQ(dashboard_assets().front().path, "/index.html");
}

TEST(Dashboard, ThePageLoadsNothingFromOutside) {
  for (const DashboardAsset& a : {*dashboard_asset("/"), *dashboard_asset("/assets/app.js"), *dashboard_asset("/assets/style.css")}) {
    EXPECT_EQ(a.body.find("http://"), std::string_view::npos) << a.path;
    EXPECT_EQ(a.body.find("https://"), std::string_view::npos) << a.path;
  }
}

}  // namespace
}  // namespace connscope::agent
