#include "core/catalog.h"

#include <climits>
#include <exception>
#include <locale>
#include <string>
#include <system_error>

#include <boost/locale/gnu_gettext.hpp>

namespace connscope {

// Why Boost.Locale's gnu_gettext loader and not glibc's gettext(): glibc returns the msgid
// untranslated whenever the LC_MESSAGES locale is "C", and a Debian machine usually has only C,
// C.UTF-8 and POSIX generated (`locale -a`): LANG=zh_CN.UTF-8 without a generated zh_CN locale
// would make setlocale() fail and every text stay English. Boost's loader reads the .mo itself
// for the language we name, with no system locale at all, and evaluates its Plural-Forms; it also
// keeps the catalog an object instead of process state set through setlocale/bindtextdomain.
struct Catalog::Impl {
  std::filesystem::path file;
  std::locale owner;  // owns the facet (facets are reference-counted by std::locale)
  const boost::locale::message_format<char>* messages = nullptr;
  int domain = 0;
};

Catalog::Catalog() = default;
Catalog::~Catalog() = default;
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;

Catalog Catalog::load(const std::vector<std::filesystem::path>& dirs, std::string_view locale) {
  Catalog c;
  const std::string name(locale);
  for (const auto& dir : dirs) {
    const auto file = dir / name / "LC_MESSAGES" / "connscope.mo";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) continue;
    boost::locale::gnu_gettext::messages_info info;
    const auto sep = name.find('_');
    info.language = name.substr(0, sep);
    if (sep != std::string::npos) info.country = name.substr(sep + 1);
    info.encoding = "UTF-8";
    info.domains.emplace_back("connscope");
    info.paths.push_back(dir.string());
    try {
      auto* facet = boost::locale::gnu_gettext::create_messages_facet<char>(info);
      if (facet == nullptr) continue;
      auto impl = std::make_unique<Impl>();
      impl->owner = std::locale(std::locale::classic(), facet);
      impl->messages = facet;
      impl->domain = facet->domain("connscope");
      impl->file = file;
      c.impl_ = std::move(impl);
      return c;
    } catch (const std::exception&) {
      // A damaged .mo: the next folder, else English (see the header).
    }
  }
  return c;
}

const std::filesystem::path& Catalog::file() const {
  static const std::filesystem::path none;
  return impl_ ? impl_->file : none;
}

std::string_view Catalog::text(Msg id, unsigned long long n) const {
  if (!impl_) return english_template(id, n);
  // Both views are string literals of the lists (text.cpp): null-terminated, so no copies.
  const char* context = msg_id_name(id).data();
  const char* english = english_template(id, 1).data();
  const char* found = nullptr;
  if (is_plural(id)) {
    // Boost takes an int: keep the last nine digits (what plural rules look at) and stay above
    // 1e9 for larger numbers, so no rule sees a small number that was not there.
    const int count = n > INT_MAX ? static_cast<int>(1'000'000'000 + n % 1'000'000'000)
                                  : static_cast<int>(n);
    found = impl_->messages->get(impl_->domain, context, english, count);
  } else {
    found = impl_->messages->get(impl_->domain, context, english);
  }
  if (found == nullptr || *found == '\0') return english_template(id, n);
  return found;
}

}  // namespace connscope
