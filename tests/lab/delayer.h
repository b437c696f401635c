#pragma once
// A one-way delay in a lab router, for kernels without sch_netem (the scenario matrix's delay
// cells): a TUN device takes what arrives on one of the router's interfaces (policy routing by
// input interface) and a thread writes each packet back after the delay; it then re-enters the
// router through the TUN device and is forwarded as usual. Owns the device, its routing rules and
// the thread; made and destroyed on the test thread.

#include <chrono>
#include <stop_token>
#include <string>
#include <thread>

#include "lab/lab.h"

namespace connscope::lab {

class Delayer {
 public:
  // Throws when the device or its routing cannot be set up.
  Delayer(Lab& lab, Node router, std::string from_iface, std::chrono::milliseconds delay);
  ~Delayer();
  Delayer(const Delayer&) = delete;
  Delayer& operator=(const Delayer&) = delete;

 private:
  void pump(const std::stop_token& stop);

  Lab& lab_;
  Node router_;
  std::string iface_;
  std::chrono::milliseconds delay_;
  UniqueFd fd_;
  std::jthread thread_;  // last: stops before the descriptor closes
};

}  // namespace connscope::lab
