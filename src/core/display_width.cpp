#include "core/display_width.h"

#include <locale.h>
#include <wchar.h>

namespace connscope {

namespace {

// glibc's C.UTF-8 (built in since 2.35): its LC_CTYPE has every code point's width. Made once
// and never changed, whatever locale the process itself runs in.
locale_t utf8_ctype() {
  static const locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return l;
}

// Without the locale (a libc without C.UTF-8): the East Asian wide and fullwidth blocks.
std::size_t fallback_width(char32_t c) {
  const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
                    (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
  return wide ? 2 : 1;
}

}  // namespace

char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 1;
  char32_t c = b0;
  if (b0 >= 0xF0) {
    len = 4;
    c = b0 & 0x07u;
  } else if (b0 >= 0xE0) {
    len = 3;
    c = b0 & 0x0Fu;
  } else if (b0 >= 0xC0) {
    len = 2;
    c = b0 & 0x1Fu;
  }
  if (i + len > s.size()) len = 1;
  for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  i += len;
  return len == 1 ? char32_t{b0} : c;
}

std::size_t code_point_width(char32_t c) {
  if (c < 0x80) return c >= 0x20 && c != 0x7F ? 1 : 0;
  const locale_t l = utf8_ctype();
  if (l == static_cast<locale_t>(nullptr)) return fallback_width(c);
  const locale_t old = uselocale(l);
  const int w = wcwidth(static_cast<wchar_t>(c));
  uselocale(old);
  // -1: not printable (or a lone byte of broken UTF-8, shown as one replacement column).
  return w < 0 ? (c >= 0x80 && c < 0x100 ? 1 : 0) : static_cast<std::size_t>(w);
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      // CSI ... final byte in 0x40-0x7E.
      i += 2;
      while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7E)) ++i;
      if (i < text.size()) ++i;
      continue;
    }
    n += code_point_width(next_code_point(text, i));
  }
  return n;
}

std::string pad_right(std::string_view text, std::size_t width) {
  std::string s(text);
  const std::size_t w = display_width(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}

std::string pad_left(std::string_view text, std::size_t width) {
  const std::size_t w = display_width(text);
  return w < width ? std::string(width - w, ' ') + std::string(text) : std::string(text);
}

}  // namespace connscope
