#include "core/error_text.h"

namespace connscope {

Error error_text(std::string op, Msg id, TextArgs args, int code) {
  Error e;
  e.op = std::move(op);
  e.code = code;
  e.detail = tr_args(Lang::en, id, args).value_or(std::string(english_template(id)));
  e.detail_id = id;
  e.detail_args = std::move(args);
  return e;
}

std::string Error::message(Lang lang) const {
  if (!detail_id) return message();
  return error_line(op, tr_args(lang, *detail_id, detail_args).value_or(detail), code);
}

}  // namespace connscope
