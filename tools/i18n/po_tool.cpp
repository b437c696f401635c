// connscope's build-time tool for the catalogs:
//   po_tool pot OUT.pot          writes the template of every message in core/text.h
//   po_tool check FILE.po STAMP  fails (exit 1, one line per problem) when a translation's
//                                placeholders differ from the English; touches STAMP when none do
// CMake runs both (po/CMakeLists.txt), so a bad translation fails the build, never a run.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "core/text.h"
#include "tools/i18n/po.h"

namespace {

using namespace connscope;

int write_pot(const char* out_path) {
  std::string out =
      "# connscope's messages, generated from src/core/text*.h by tools/i18n/po_tool\n"
      "# (cmake --build build --target pot refreshes po/connscope.pot). Do not edit: edit the lists.\n"
      "# msgctxt is the message id, msgid the English; both are the lookup key at run time.\n"
      "# Placeholders in braces ({name}, {}) must stay, with their specs; {{ and }} are braces.\n"
      "msgid \"\"\n"
      "msgstr \"\"\n"
      "\"Project-Id-Version: connscope\\n\"\n"
      "\"MIME-Version: 1.0\\n\"\n"
      "\"Content-Type: text/plain; charset=UTF-8\\n\"\n"
      "\"Content-Transfer-Encoding: 8bit\\n\"\n"
      "\"Plural-Forms: nplurals=2; plural=(n != 1);\\n\"\n";
  int bad = 0;
#define CONNSCOPE_POT(id, en) out += "\n" + po::pot_entry(#id, en, std::nullopt, "");
#define CONNSCOPE_POT_PLURAL(id, count, one, many)                                                   \
  if (auto why = po::compare(many, one); !why.empty()) {                                             \
    std::cerr << "po_tool: " #id ": the English singular and plural differ: " << why << "\n";      \
    ++bad;                                                                                           \
  }                                                                                                  \
  out += "\n" + po::pot_entry(#id, one, std::string_view(many), "{" #count "} picks the plural form");
  CONNSCOPE_MESSAGES(CONNSCOPE_POT)
  CONNSCOPE_PLURAL_MESSAGES(CONNSCOPE_POT_PLURAL)
#undef CONNSCOPE_POT_PLURAL
#undef CONNSCOPE_POT
  if (bad > 0) return 1;
  std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
  f << out;
  f.close();
  if (!f) {
    std::cerr << "po_tool: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}

int check(const char* po_path, const char* stamp) {
  const auto text = po::read_file(po_path);
  if (!text) {
    std::cerr << "po_tool: cannot read " << po_path << "\n";
    return 1;
  }
  const auto parsed = po::parse(*text);
  if (!parsed.file) {
    std::cerr << po_path << ": " << parsed.error << "\n";
    return 1;
  }
  const auto problems = po::check(*parsed.file);
  for (const auto& p : problems) {
    std::cerr << po_path << ":" << p.line << ": " << p.context << ": " << p.what << "\n";
  }
  if (!problems.empty()) return 1;
  std::ofstream(stamp, std::ios::trunc) << "ok\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "pot" && argc == 3) return write_pot(argv[2]);
  if (mode == "check" && argc == 4) return check(argv[2], argv[3]);
  std::cerr << "usage: po_tool pot OUT.pot | po_tool check FILE.po STAMP\n";
  return 2;
}
