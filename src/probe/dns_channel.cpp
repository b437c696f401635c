#include "probe/dns_channel.h"

namespace connscope::probe {

int init_channel(ares_channel* channel, const ChannelConfig& config, ares_sock_state_cb sock_state,
                 void* sock_state_data) {
  ares_options o{};
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
  // Every response reaches us with its rcode: without this, c-ares 1.18 retries a SERVFAIL or
  // REFUSED and then reports ECONNREFUSED ("could not contact DNS servers").
  o.flags = ARES_FLAG_NOCHECKRESP;
  o.timeout = config.timing.timeout_ms;
  o.tries = config.timing.tries;
  if (sock_state != nullptr) {
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = sock_state_data;
    mask |= ARES_OPT_SOCK_STATE_CB;
  }
  std::string lookups = config.lookups;
  o.lookups = lookups.data();
  std::string resolv_conf = config.resolv_conf;
  if (!resolv_conf.empty()) {
    o.resolvconf_path = resolv_conf.data();
    mask |= ARES_OPT_RESOLVCONF;
  }
  if (config.no_search) {
    o.domains = nullptr;
    o.ndomains = 0;
    mask |= ARES_OPT_DOMAINS;
  }
  if (const int st = ares_init_options(channel, &o, mask); st != ARES_SUCCESS) {
    *channel = nullptr;
    return st;
  }
  if (config.server) {
    ares_addr_port_node node{};
    node.next = nullptr;
    node.family = config.server->family;
    if (ares_inet_pton(node.family, config.server->address.c_str(), &node.addr) != 1) {
      return ARES_EBADSTR;
    }
    node.udp_port = config.server->port;
    node.tcp_port = config.server->port;
    if (const int st = ares_set_servers_ports(*channel, &node); st != ARES_SUCCESS) return st;
  }
  return ARES_SUCCESS;
}

}  // namespace connscope::probe
