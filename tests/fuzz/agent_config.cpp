// The agent's configuration file (TOML, agent::parse_config): toml++'s parser and every check
// of the values (listen endpoint, durations, sampling, history, HTTP limits, probe targets).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/config.h"
#include "fuzz_check.h"
#include "probe/tls_probe.h"

// A probe with a CA file or a client certificate has its TLS files loaded while the config is
// checked (probe::make_tls_context, in the stage library this build leaves out). Here the
// loading always fails the way a missing file does: the files are not outside bytes of the
// config, and reading the disk from a fuzzer would be noise.
namespace connscope::probe {
Result<TlsContext> make_tls_context(const std::optional<std::string>& ca_file,
                                    const std::optional<ClientCertificate>& client) {
  const std::string path = ca_file ? *ca_file : client ? client->cert_file : std::string();
  return fail("--ca-file \"" + path + "\"", "not read by the fuzzer", 2);
}
}  // namespace connscope::probe

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  (void)agent::parse_config(fuzz::text(data, size), "agent.toml");
  return 0;
}
