#pragma once
// Process exit statuses, the same for every command (Linux conventions, see README).

namespace connscope {

enum class ExitCode : int {
  healthy = 0,      // everything looked fine
  problems = 1,     // the command ran and found problems
  usage = 2,        // bad command line or input
  could_not_run = 3 // permission, missing kernel feature, resource limit
};

}  // namespace connscope
