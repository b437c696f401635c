#include "agent/dashboard_texts.h"

#include "core/error_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include <nlohmann/json.hpp>

namespace connscope::agent {

namespace {

constexpr std::array kLangs = {Lang::en, Lang::zh_CN};

// A language's own name, for the switch: readable by those who speak it.
std::string_view endonym(Lang lang) { return lang == Lang::zh_CN ? "中文" : "English"; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "q=0.8" → 0.8 (in thousandths); a missing or malformed q is 1.
int q_of(std::string_view params) {
  int q = 1000;
  while (!params.empty()) {
    const auto semi = params.find(';');
    const auto p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (!p.starts_with("q=") && !p.starts_with("Q=")) continue;
    const auto v = p.substr(2);
    // 0, 1, 0.5, 0.875: three decimals at most (RFC 9110 qvalue).
    int whole = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), whole);
    if (ec != std::errc() || whole < 0 || whole > 1) return 1000;
    int frac = 0, digits = 0;
    if (end < v.data() + v.size() && *end == '.') {
      for (++end; end < v.data() + v.size() && digits < 3 && *end >= '0' && *end <= '9'; ++end, ++digits)
        frac = frac * 10 + (*end - '0');
    }
    while (digits++ < 3) frac *= 10;
    q = std::min(1000, whole * 1000 + frac);
  }
  return q;
}

}  // namespace

std::optional<Lang> accept_language_match(std::string_view header) {
  std::optional<Lang> best;
  int best_q = 0;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto semi = item.find(';');
    const auto tag = trim(item.substr(0, semi));
    const int q = semi == std::string_view::npos ? 1000 : q_of(item.substr(semi + 1));
    const auto lang = lang_from_name(tag);
    if (lang && q > best_q) {
      best = lang;
      best_q = q;
    }
  }
  return best;
}

Lang lang_from_accept_language(std::string_view header) { return accept_language_match(header).value_or(Lang::en); }

Result<Lang> dashboard_lang(const std::optional<std::string>& query_lang, std::string_view accept_language) {
  if (!query_lang) return lang_from_accept_language(accept_language);
  if (auto lang = lang_from_name(*query_lang)) return *lang;
  return fail_text("lang \"" + *query_lang + "\"", Msg::unknown_lang);

}

Result<Lang> reader_lang(const std::optional<std::string>& query_lang, std::string_view accept_language, Lang fallback) {
  if (query_lang) return dashboard_lang(query_lang, accept_language);
  return accept_language_match(accept_language).value_or(fallback);
}

nlohmann::json dashboard_texts(Lang lang) {
  nlohmann::json texts = nlohmann::json::object();
#define CONNSCOPE_DASH_TEXT(id, en) texts[#id] = std::string(text_template(lang, Msg::id));
  CONNSCOPE_DASHBOARD_MESSAGES(CONNSCOPE_DASH_TEXT)
#undef CONNSCOPE_DASH_TEXT
  nlohmann::json languages = nlohmann::json::array();
  for (const Lang l : kLangs) languages.push_back({{"code", std::string(lang_name(l))}, {"name", std::string(endonym(l))}});
  return {{"lang", std::string(lang_name(lang))}, {"languages", std::move(languages)}, {"texts", std::move(texts)}};
}

}  // namespace connscope::agent
