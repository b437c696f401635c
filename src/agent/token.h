#pragma once
// The agent's bearer token: 32 random bytes as hex in <data dir>/token (mode 0600, the directory
// 0700), made on first start and read on the next ones.

#include <string>

#include "core/error.h"
#include "sys/unique_fd.h"

namespace connscope::agent {

struct TokenFile {
  std::string token;
  std::string path;
  bool created = false;  // made now: the caller shows it once
};

// Creates the data dir (and its parents) when missing; mode 0700: it holds the token and the
// history.
Result<void> make_data_dir(const std::string& data_dir);

// Holds <data dir>/lock (flock) for as long as the returned descriptor lives: one agent per data
// dir, so two never write one history. Another agent holding it is an error naming the dir.
Result<sys::UniqueFd> lock_data_dir(const std::string& data_dir);

Result<TokenFile> load_or_create_token(const std::string& data_dir);

}  // namespace connscope::agent
