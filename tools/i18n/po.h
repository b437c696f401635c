#pragma once
// gettext PO files for connscope's build: a parser (what msgfmt reads, without the line
// references), the .pot writer for the catalog in core/text.h, and the placeholder rule every
// translation must keep. Pure functions; the po_tool program and the tests call them.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connscope::po {

struct Entry {
  std::optional<std::string> context;  // msgctxt: the message id
  std::string id;                      // msgid: the English
  std::optional<std::string> id_plural;
  std::vector<std::string> strs;  // msgstr, or msgstr[0..n-1]
  bool fuzzy = false;
  bool obsolete = false;  // "#~" lines: kept by msgmerge, never compiled
  int line = 0;           // where it starts, for messages
};

struct File {
  std::vector<Entry> entries;  // without the header (the entry whose msgid is "")
  std::map<std::string, std::string> header;  // "Plural-Forms" -> "nplurals=1; plural=0;"
};

struct Problem {
  int line = 0;
  std::string context;
  std::string what;
};

// Parses PO text; a line it does not understand is an error naming that line.
struct ParseResult {
  std::optional<File> file;
  std::string error;
};
ParseResult parse(std::string_view text);

// The placeholders of an fmt template: {name...} and {} ({{ and }} are literal braces).
struct Placeholders {
  std::vector<std::string> named;       // "{name:spec}" as written, sorted: order is free
  std::vector<std::string> positional;  // "{}", "{:>8}", in order: order is meaning
  std::string error;                    // an unmatched brace
};
Placeholders placeholders(std::string_view text);

// Whether `translation` may stand for `english`: the same named placeholders with the same specs
// (in any order), the same positional ones in the same order, and a final newline where the
// English has one. Empty when it may; else what differs, in words.
std::string compare(std::string_view english, std::string_view translation);

// Every problem of a translated file: a translation (plural forms against the plural English)
// whose placeholders differ from its English. Untranslated entries are not problems here.
std::vector<Problem> check(const File& file);

// A PO string literal body: backslash escapes for ", \, newline, tab.
std::string escape(std::string_view s);

// One .pot entry in gettext's layout (a text with newlines is split after each).
std::string pot_entry(std::string_view context, std::string_view id, std::optional<std::string_view> id_plural,
                      std::string_view comment);

// A whole file; nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace connscope::po
