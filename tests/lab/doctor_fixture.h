#pragma once
// The fixture of the doctor's lab tests: `connscope serve` in the server namespace, `connscope
// --json doctor` from the client, parameterised by address family, and the helpers that read
// its JSON (stage, finding, the verdict).

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/endpoint.h"
#include "lab/lab.h"

namespace connscope::lab {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::uint16_t kPort = 8080;

inline int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

struct DoctorRun {
  int exit_code = -1;
  json out;
  std::chrono::milliseconds elapsed{};
  std::string err;
};

class DoctorLab : public LabTest, public ::testing::WithParamInterface<Family> {
 protected:
  Family fam() const { return GetParam(); }
  std::string server_addr() { return lab().addr(Node::server, fam()); }
  // "198.18.3.2:8080" / "[2001:db8:3::2]:8080"
  std::string server_target(std::uint16_t port = kPort) {
    return Endpoint{af(fam()), server_addr(), port}.to_string();
  }
  std::string dns_addr() { return lab().addr(Node::dns, fam()); }

  // `connscope serve --mode MODE [extra...]` on the server's address of this family.
  void serve(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "serve", "--listen", server_target(), "--mode", mode};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = lab().spawn(Node::server, argv);
    ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kPort, 3s)) << server_.err();
  }

  // `limit`: how long the test lets the process run before killing it.
  DoctorRun doctor(std::vector<std::string> args, const std::string& timeout = "1s",
                   std::chrono::milliseconds limit = 20s) {
    return doctor_on(Node::client, std::move(args), timeout, limit);
  }
  // The same, run on `node`.
  DoctorRun doctor_on(Node node, std::vector<std::string> args, const std::string& timeout = "1s",
                      std::chrono::milliseconds limit = 20s) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "--timeout", timeout, "doctor"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto t0 = Clock::now();
    auto r = lab().exec(node, argv, limit);
    DoctorRun run;
    run.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    run.exit_code = r.exit_code;
    run.err = r.err;
    try {
      run.out = json::parse(r.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
    }
    return run;
  }

  static const json& stage(const DoctorRun& r, const std::string& name) {
    for (const auto& s : r.out.at("stages")) {
      if (s.at("stage") == name) return s;
    }
    static const json none;
    ADD_FAILURE() << "no stage " << name;
    return none;
  }
  static const json* finding(const DoctorRun& r, const std::string& id) {
    for (const auto& f : r.out.at("findings")) {
      if (f.at("id") == id) return &f;
    }
    return nullptr;
  }
  // The verdict: status, stage, finding id (null as "").
  static void expect_verdict(const DoctorRun& r, const std::string& status, const std::string& stage_name,
                             const std::string& finding_id) {
    const auto& v = r.out.at("verdict");
    EXPECT_EQ(v.at("status"), status) << r.out.dump(2);
    EXPECT_EQ(v.at("stage").is_null() ? "" : v.at("stage").get<std::string>(), stage_name) << r.out.dump(2);
    EXPECT_EQ(v.at("finding").is_null() ? "" : v.at("finding").get<std::string>(), finding_id) << r.out.dump(2);
    EXPECT_EQ(r.exit_code, status == "ok" ? 0 : 1) << r.err;
  }

  Process server_;
};

}  // namespace connscope::lab
