#include "core/display_width.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

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
// Lines end at spaces in English and between characters in Chinese, by columns, and never put
// "，" or "）" at the start of a line nor "（" at the end of one.
TEST(WrapColumns, EnglishAtSpacesChineseBetweenCharacters) {
  EXPECT_EQ(wrap_columns("    why: one two three four", 9, 20), "    why: one two\n         three four");
  EXPECT_EQ(wrap_columns("short", 4, 80), "short");
  EXPECT_EQ(wrap_columns("a verylongwordthatdoesnotfit b", 2, 10), "a\n  verylongwordthatdoesnotfit\n  b");
  // 10 columns: five CJK characters a line.
  EXPECT_EQ(wrap_columns("一二三四五六七八九十", 0, 10), "一二三四五\n六七八九十");
  // "，" stays with the character before it, "（" with the one after it.
  EXPECT_EQ(wrap_columns("一二三四，五六", 0, 8), "一二三\n四，五六");
  EXPECT_EQ(wrap_columns("一二三（四五", 0, 8), "一二三\n（四五");
  // Mixed: a Latin word is one unit, and the space before it is kept when it stays on the line.
  EXPECT_EQ(wrap_columns("    原因：调大 backlog 参数", 4, 18), "    原因：调大\n    backlog 参数");
  // Every line of a long mixed text fits, and nothing is lost but the spaces at the breaks.
  const std::string text =
      "应用调用 accept() 的速度跟不上连接完成握手的速度（事件循环被阻塞、worker 太少、依赖服务太慢），"
      "或者它的 backlog 对突发流量来说太小。";
  const auto wrapped = wrap_columns(text, 0, 24);
  std::string rejoined;
  std::size_t start = 0;
  while (start <= wrapped.size()) {
    const auto end = std::min(wrapped.find('\n', start), wrapped.size());
    const auto line = wrapped.substr(start, end - start);
    EXPECT_LE(display_width(line), 24u) << line;
    EXPECT_FALSE(line.starts_with("，") || line.starts_with("）") || line.ends_with("（")) << line;
    rejoined += line;
    start = end + 1;
  }
  auto without_spaces = [](std::string s) {
    std::erase(s, ' ');
    return s;
  };
  EXPECT_EQ(without_spaces(rejoined), without_spaces(text));
}

}  // namespace connscope
