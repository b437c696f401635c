#pragma once
// `connscope doctor`'s flags and the doctor options they ask for: the target's defaults
// (probe::doctor_defaults, shared with the agent's probes), then what the flags override. Pure
// but for --ca-file/--cert/--key, which are loaded so that a wrong file is a usage error naming it.

#include <chrono>
#include <optional>
#include <string>

#include "core/error.h"
#include "probe/doctor_result.h"

namespace connscope::cli {

struct DoctorFlags {
  std::string target;
  std::optional<int> port;
  bool v4 = false;
  bool v6 = false;
  std::string resolver;
  std::string proto;
  std::string http_path;
  std::string sni;
  bool tls = false;
  bool no_tls = false;
  std::string ca_file;
  std::string cert;
  std::string key;
  bool insecure = false;
  int repeat = 1;
  bool follow = false;
};

// The options, or a usage error naming the input (its detail a catalog message). `timeout` is
// the global --timeout, per stage.
Result<probe::DoctorOptions> doctor_options(const DoctorFlags& f, std::chrono::nanoseconds timeout);

// The flags of a --follow hop to `url`: those that name the first target (--port, --sni,
// --http-path, --proto, --tls, --no-tls) do not carry over.
DoctorFlags redirect_flags(const DoctorFlags& f, const std::string& url);

}  // namespace connscope::cli
