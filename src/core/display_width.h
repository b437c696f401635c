#pragma once
// How many terminal columns text takes, so that tables line up in every language: a CJK
// character takes two columns and two or three bytes, an accent none. The widths are glibc's
// (wcwidth in its built-in C.UTF-8 locale), whatever the process's own locale is. Pure.

#include <cstddef>
#include <string>
#include <string_view>

namespace connscope {

// Decodes one UTF-8 sequence at s[i] and advances i past it; a byte that does not start a
// complete sequence is returned as itself (and counts as one column).
char32_t next_code_point(std::string_view s, std::size_t& i);

// The columns of one code point: 2 for East Asian wide and fullwidth, 0 for combining marks and
// controls, 1 otherwise.
std::size_t code_point_width(char32_t c);

// The columns of `text`; ANSI CSI sequences (colours) take none.
std::size_t display_width(std::string_view text);

// `text` broken into lines of at most `width` columns where it can be: at spaces, and between
// two CJK characters (Chinese has no spaces), never before closing punctuation such as "，" or
// "）" nor after opening punctuation such as "（". The text's own leading spaces are kept; each
// further line starts with `indent` spaces. A word wider than a line stays whole.
std::string wrap_columns(std::string_view text, std::size_t indent, std::size_t width);

// `text` and spaces up to `width` columns (as it is when already as wide).
std::string pad_right(std::string_view text, std::size_t width);
std::string pad_left(std::string_view text, std::size_t width);

}  // namespace connscope
