#include "probe/doctor_defaults.h"

#include <algorithm>

namespace connscope::probe {

DoctorOptions doctor_defaults(const Target& target, std::uint16_t port, std::chrono::milliseconds timeout) {
  DoctorOptions o;
  o.target = target;
  o.port = port;
  o.protocol = target_protocol(target, port);
  o.tls = target_tls(target, port);
  o.http_path = target.http_path.empty() ? "/" : target.http_path;
  o.identify = target.scheme == Scheme::none && o.protocol == AppProtocol::banner;
  // A zero timeout would end every stage before it starts.
  o.timeout = std::max(timeout, std::chrono::milliseconds(1));
  return o;
}

}  // namespace connscope::probe
