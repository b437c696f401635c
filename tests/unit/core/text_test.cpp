#include "core/text.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace connscope {
namespace {

TEST(Text, FormatsWithNamedAndPositionalArguments) {
  EXPECT_EQ(tr(Lang::en, Msg::serve_port_in_use_owner, "127.0.0.1:80", 42, "nginx"),
            "127.0.0.1:80 is already in use by pid 42 (nginx)");
  EXPECT_EQ(tr(Lang::en, Msg::mode_http, 503), "HTTP/1.1: every request gets 503 and a short body");
}

// The catalogs and the choice of language: tests/unit/i18n.

TEST(Error, MessageJoinsOpDetailAndErrno) {
  EXPECT_EQ((Error{"bind 1.2.3.4:80", 13, {}}.message()), "bind 1.2.3.4:80: Permission denied");
  EXPECT_EQ((Error{"--x \"y\"", 0, "bad"}.message()), "--x \"y\": bad");
  EXPECT_EQ((Error{"open /f", 2, "cannot read"}.message()),
            "open /f: cannot read (No such file or directory)");
}

}  // namespace
}  // namespace connscope
