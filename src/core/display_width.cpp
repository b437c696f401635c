#include "core/display_width.h"

#include <vector>

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

namespace {

// CJK punctuation that must not begin a line (it ends the unit before it) or end one (it begins
// the unit after it): the common ones of Chinese text.
bool closes(char32_t c) {
  return c == U'\uFF0C' || c == U'\u3002' || c == U'\u3001' || c == U'\uFF1B' || c == U'\uFF1A' ||
         c == U'\uFF01' || c == U'\uFF1F' || c == U'\uFF09' || c == U'\u300D' || c == U'\u300F' ||
         c == U'\u300B' || c == U'\u3011';
}
bool opens(char32_t c) {
  return c == U'\uFF08' || c == U'\u300C' || c == U'\u300E' || c == U'\u300A' || c == U'\u3010';
}

struct Unit {
  std::string text;
  std::size_t width = 0;
  bool space_before = false;
};

}  // namespace

std::string wrap_columns(std::string_view text, std::size_t indent, std::size_t width) {
  std::size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  std::string out(text.substr(0, i));

  // Units: a run of narrow characters (a word), or one wide character with the punctuation glued
  // to it; a break may come before any unit.
  std::vector<Unit> units;
  bool space = false;
  bool in_word = false;  // the last unit is a word still growing
  bool glue = false;     // the last unit ends with opening punctuation: the next joins it
  while (i < text.size()) {
    const std::size_t start = i;
    const char32_t c = next_code_point(text, i);
    const std::string_view bytes = text.substr(start, i - start);
    const std::size_t w = code_point_width(c);
    if (c == U' ') {
      space = true;
      in_word = false;
      glue = false;
      continue;
    }
    const bool wide = w == 2;
    const bool join = !units.empty() && !space && (glue || (in_word && !wide) || closes(c));
    if (join) {
      units.back().text += bytes;
      units.back().width += w;
    } else {
      units.push_back(Unit{std::string(bytes), w, space});
    }
    space = false;
    in_word = !wide;
    glue = opens(c);
  }

  std::size_t col = out.size();
  bool line_start = true;
  for (const auto& u : units) {
    const std::size_t gap = u.space_before ? 1 : 0;
    if (!line_start && col + gap + u.width > width) {
      out += '\n';
      out.append(indent, ' ');
      col = indent;
    } else if (!line_start && gap) {
      out += ' ';
      ++col;
    }
    line_start = false;
    out += u.text;
    col += u.width;
  }
  return out;
}

}  // namespace connscope
