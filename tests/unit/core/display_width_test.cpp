#include "core/display_width.h"

#include <gtest/gtest.h>

namespace connscope {
namespace {

TEST(DisplayWidth, CountsColumnsNotBytes) {
  EXPECT_EQ(display_width(""), 0u);
  EXPECT_EQ(display_width("net.core.somaxconn"), 18u);
  EXPECT_EQ(display_width("全连接队列"), 10u);  // 5 characters, 15 bytes
  EXPECT_EQ(display_width("状态：正常"), 10u);   // the full-width colon is wide too
  EXPECT_EQ(display_width("→ …"), 3u);          // arrows and the ellipsis are narrow
  EXPECT_EQ(display_width("e\xcc\x81"), 1u);     // e + a combining acute accent
  EXPECT_EQ(display_width("\x1b[1mbold\x1b[0m"), 4u);  // colours take no column
  EXPECT_EQ(display_width("\xff"), 1u);          // a stray byte shows as one replacement column
  EXPECT_EQ(display_width("ｔｃｐ"), 6u);          // fullwidth Latin
}

TEST(DisplayWidth, PaddingMeasuresColumns) {
  EXPECT_EQ(pad_right("队列", 6), "队列  ");
  EXPECT_EQ(pad_left("队列", 6), "  队列");
  EXPECT_EQ(pad_right("queue", 3), "queue");
  EXPECT_EQ(pad_right("\x1b[31mred\x1b[0m", 5), "\x1b[31mred\x1b[0m  ");
}

TEST(DisplayWidth, NextCodePointDecodesUtf8) {
  const std::string s = "a队\xf0\x9f\x98\x80";
  std::size_t i = 0;
  EXPECT_EQ(next_code_point(s, i), U'a');
  EXPECT_EQ(next_code_point(s, i), U'队');
  EXPECT_EQ(next_code_point(s, i), U'\U0001F600');
  EXPECT_EQ(i, s.size());
  const std::string cut = "\xe9\x98";  // a 3-byte sequence cut short: its bytes, one by one
  i = 0;
  EXPECT_EQ(next_code_point(cut, i), char32_t{0xE9});
  EXPECT_EQ(i, 1u);
}

}  // namespace
}  // namespace connscope
