// doctor --follow's policy (probe/redirects.h) on recorded reports: which statuses are followed,
// where a chain ends (final answer, loop, too many, unfollowable), and what each hop is asked.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/error_text.h"
#include "core/target.h"
#include "probe/redirects.h"

namespace connscope::probe {
namespace {

// A report of a run at `url` whose reply is HTTP `status` with `location` (none: no talk stage).
DoctorReport reply(const std::string& url, unsigned status, const std::string& location = "") {
  DoctorReport r;
  auto t = parse_target(url);
  EXPECT_TRUE(t.has_value()) << url;
  if (t) r.options.target = *t;
  TalkResult talk;
  HttpReply h;
  h.status = status;
  h.location = location;
  talk.http = h;
  r.talk = talk;
  return r;
}

// The runs of a chain: each URL's recorded report; the URLs asked, in order.
struct Recorded {
  std::map<std::string, DoctorReport> by_url;
  std::vector<std::string> asked;
  RunRedirect runner() {
    return [this](const std::string& url) -> Result<const DoctorReport*> {
      asked.push_back(url);
      auto it = by_url.find(url);
      if (it == by_url.end()) return fail_text("target \"" + url + "\"", Msg::doctor_no_port);
      return &it->second;
    };
  }
};

TEST(FollowRedirects, FollowsTheThreeHundredsWithALocationOnly) {
  for (unsigned s : {301U, 302U, 303U, 307U, 308U}) EXPECT_TRUE(is_followed_redirect(s)) << s;
  for (unsigned s : {200U, 300U, 304U, 305U, 306U, 404U}) EXPECT_FALSE(is_followed_redirect(s)) << s;
  Recorded runs;
  const auto ok = reply("http://a.example/", 200);
  auto chain = follow_redirects("http://a.example/", ok, runs.runner());
  EXPECT_TRUE(chain.hops.empty());
  EXPECT_EQ(chain.stop, RedirectStop::none);
  EXPECT_EQ(chain.final_target, "http://a.example/");
  // A 304 is an answer; a 302 without a Location cannot be followed and is one too.
  chain = follow_redirects("http://a.example/", reply("http://a.example/", 302), runs.runner());
  EXPECT_TRUE(chain.hops.empty());
  EXPECT_TRUE(runs.asked.empty());
  // No talk stage (the connect failed): nothing to follow.
  DoctorReport failed;
  EXPECT_TRUE(follow_redirects("a.example:80", failed, runs.runner()).hops.empty());
}

TEST(FollowRedirects, WalksTheChainToItsFinalAnswer) {
  Recorded runs;
  runs.by_url["https://a.example/"] = reply("https://a.example/", 301, "/login");
  runs.by_url["https://a.example/login"] = reply("https://a.example/login", 200);
  const auto first = reply("http://a.example/", 308, "https://a.example/");
  const auto chain = follow_redirects("http://a.example", first, runs.runner());
  ASSERT_EQ(chain.hops.size(), 2U);
  EXPECT_EQ(chain.hops[0].url, "http://a.example");  // as typed
  EXPECT_EQ(chain.hops[0].status, 308U);
  EXPECT_EQ(chain.hops[0].location, "https://a.example/");
  EXPECT_EQ(chain.hops[1].url, "https://a.example/");
  EXPECT_EQ(chain.hops[1].location, "https://a.example/login");  // resolved against the run's target
  EXPECT_EQ(chain.stop, RedirectStop::none);
  EXPECT_EQ(chain.final_target, "https://a.example/login");
  EXPECT_EQ(runs.asked, (std::vector<std::string>{"https://a.example/", "https://a.example/login"}));
}

TEST(FollowRedirects, StopsAtALoopWithoutRunningItAgain) {
  Recorded runs;
  runs.by_url["http://b.example/"] = reply("http://b.example/", 302, "http://a.example/");
  const auto first = reply("http://a.example/", 302, "http://b.example/");
  const auto chain = follow_redirects("http://a.example/", first, runs.runner());
  ASSERT_EQ(chain.hops.size(), 2U);
  EXPECT_EQ(chain.stop, RedirectStop::loop);
  EXPECT_EQ(chain.final_target, "http://b.example/");
  EXPECT_EQ(runs.asked, (std::vector<std::string>{"http://b.example/"}));
  // A URL that redirects to itself is a loop at once.
  Recorded none;
  const auto self = follow_redirects("http://a.example/", reply("http://a.example/", 301, "/"), none.runner());
  EXPECT_EQ(self.stop, RedirectStop::loop);
  EXPECT_EQ(self.hops.size(), 1U);
  EXPECT_TRUE(none.asked.empty());
}

TEST(FollowRedirects, StopsAfterTheLimit) {
  Recorded runs;
  // /0 → /1 → /2 → ... never ending, never repeating.
  for (int i = 1; i <= 20; ++i) {
    const std::string url = fmt::format("http://a.example/{}", i);
    runs.by_url[url] = reply(url, 302, fmt::format("/{}", i + 1));
  }
  const auto chain = follow_redirects("http://a.example/0", reply("http://a.example/0", 302, "/1"), runs.runner());
  EXPECT_EQ(chain.stop, RedirectStop::too_many);
  EXPECT_EQ(chain.hops.size(), kMaxRedirects + 1);
  EXPECT_EQ(runs.asked.size(), kMaxRedirects);
  EXPECT_EQ(chain.final_target, fmt::format("http://a.example/{}", kMaxRedirects));
}

TEST(FollowRedirects, AnUnfollowableLocationOrRunEndsTheChainWithItsError) {
  Recorded runs;
  // Not a URL to follow (a space in it): the parser's error.
  auto chain = follow_redirects("http://a.example/", reply("http://a.example/", 302, "/a b"),
                                runs.runner());
  EXPECT_EQ(chain.stop, RedirectStop::unfollowable);
  EXPECT_TRUE(chain.hops.empty());
  EXPECT_FALSE(chain.note.empty());
  ASSERT_TRUE(chain.error.has_value());
  EXPECT_EQ(chain.note, chain.error->message());
  // A URL whose run cannot start: the run's error, with the hop recorded.
  chain = follow_redirects("http://a.example/", reply("http://a.example/", 302, "http://c.example/"), runs.runner());
  EXPECT_EQ(chain.stop, RedirectStop::unfollowable);
  ASSERT_EQ(chain.hops.size(), 1U);
  EXPECT_EQ(chain.final_target, "http://a.example/");
  ASSERT_TRUE(chain.error.has_value());
  EXPECT_EQ(chain.error->detail_id, Msg::doctor_no_port);
}

}  // namespace
}  // namespace connscope::probe
