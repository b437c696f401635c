// inspect's renderers (cli/inspect_render.h) on a hand-built collection: one listener with a full
// accept queue, the sections that only appear when they have rows, Chinese headings, and the
// streamed JSON. The golden files of tests/fixtures/inspect_replay check a whole real run.
#include "cli/inspect_render.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace connscope::cli {
namespace {

inspect::Collected one_full_listener() {
  inspect::Collected c;
  inspect::ListenerRow l;
  l.local = Endpoint{AF_INET, "127.0.0.1", 9605};
  l.accept_queue = 9;
  l.accept_queue_limit = 8;
  l.syn_recv = 2;
  c.snapshot.listeners.push_back(l);
  c.notes.push_back("a note");
  return c;
}

TEST(InspectRender, ListenOnlyEnglish) {
  const auto text = render_inspect_text(one_full_listener(), {}, true, Style{false}, Lang::en);
  EXPECT_TRUE(text.starts_with("Listeners (QUEUE = ")) << text;
  EXPECT_NE(text.find("  127.0.0.1:9605                                     9/8        2  -\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("TCP states"), std::string::npos) << "--listen leaves out the state table";
  EXPECT_EQ(text.find("UDP"), std::string::npos) << "no UDP section without UDP sockets";
  EXPECT_TRUE(text.ends_with("note: a note\n")) << text;
}

TEST(InspectRender, FullQueueIsRedWithColour) {
  const auto text = render_inspect_text(one_full_listener(), {}, true, Style{true}, Lang::en);
  EXPECT_NE(text.find("\x1b[31m9/8\x1b[0m"), std::string::npos) << text;
}

TEST(InspectRender, ChineseHeadings) {
  const auto text = render_inspect_text(one_full_listener(), {}, false, Style{false}, Lang::zh_CN);
  EXPECT_EQ(text.find("Listeners"), std::string::npos) << text;
  EXPECT_EQ(text.find("Findings"), std::string::npos) << text;
  EXPECT_NE(text.find("127.0.0.1:9605"), std::string::npos) << text;
  EXPECT_NE(text.find("LISTEN"), std::string::npos) << "state names stay as the kernel's";
}

TEST(InspectRender, JsonIsStreamedIntoTheWriter) {
  std::FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  {
    JsonStream w(fileno(tmp), "a temporary file");
    write_inspect_json(w, one_full_listener(), {});
    ASSERT_TRUE(w.finish("\n"));
  }
  std::rewind(tmp);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) out.append(buf, n);
  std::fclose(tmp);
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.at("listeners").size(), 1u);
  EXPECT_EQ(j.at("listeners")[0].at("accept_queue"), 9);
  EXPECT_EQ(j.at("listeners")[0].at("accept_queue_limit"), 8);
  EXPECT_EQ(j.at("listeners")[0].at("pid"), nullptr);
  EXPECT_EQ(j.at("notes"), nlohmann::json::array({"a note"}));
  EXPECT_FALSE(j.contains("socket_list")) << "only with --all";
}

}  // namespace
}  // namespace connscope::cli
