#pragma once
// The dashboard's words in the reader's language (/api/v1/texts): the page asks once, then
// renders with them. The language is the request's `?lang=` when given, else the browser's
// Accept-Language (the first supported one by q-value), else English. Pure.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

// The language of an Accept-Language header ("zh-CN,zh;q=0.9,en;q=0.8"): the supported language
// with the highest q (equal q: the first listed; q=0: not acceptable); English when none is.
Lang lang_from_accept_language(std::string_view header);
// The same, nullopt when the header names no supported language.
std::optional<Lang> accept_language_match(std::string_view header);

// `?lang=` when given (an unknown one is an error naming it and the languages), else the header's.
Result<Lang> dashboard_lang(const std::optional<std::string>& query_lang, std::string_view accept_language);

// The language an API reader gets the findings' texts in: `?lang=` when given (an unknown one is
// an error naming it and the languages), else the header's supported language, else `fallback`
// (the agent's --lang).
Result<Lang> reader_lang(const std::optional<std::string>& query_lang, std::string_view accept_language, Lang fallback);

// {"lang": "zh-CN", "languages": [{"code": "en", "name": "English"}, …], "texts": {id: text}}: every
// dashboard message (core/text_dashboard.h) in `lang`.
nlohmann::json dashboard_texts(Lang lang);

}  // namespace connscope::agent
