// Timing of `connscope doctor` against curl in the lab; its own executable so that CTest runs
// it with nothing else beside it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "lab/doctor_fixture.h"

namespace connscope::lab {
namespace {

class DoctorTimingLab : public DoctorLab {};

// The performance contract on the healthy HTTPS case: the doctor's phases agree with
// curl's (-w time_namelookup, time_connect, time_appconnect, time_starttransfer) within 1 ms,
// and the run's wall time minus the sum of its stages is at most 5 ms. The runs alternate, and
// what is compared is the median of each pair's difference: a TLS handshake on this 2-core VM
// varies by 2 ms from one process to the next, and pairing cancels the drift of the machine's
// state over seconds. This executable runs alone (RUN_SERIAL).
TEST_P(DoctorTimingLab, PhaseTimesAgreeWithCurl) {
  auto nginx = lab().start_nginx_tls(lab().certs().valid.cert, lab().certs().valid.key, 8443);
  const std::string ca = lab().certs().ca.string();
  const std::string url = "https://" + std::string(kServerName) + ":8443/";
  const std::string pinned = std::string(kServerName) + ":8443:" +
                             (fam() == Family::v4 ? server_addr() : "[" + server_addr() + "]");
  constexpr int kRuns = 21;
  // phase → samples in ms: resolve, connect, tls, first byte
  std::vector<double> ours[4], curls[4], overhead;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (int i = 0; i < kRuns; ++i) {
    auto r = doctor({"--sni", std::string(kServerName), "--ca-file", ca, "https://" + server_target(8443) + "/"}, "3s");
    ASSERT_EQ(r.out.at("verdict").at("status"), "ok") << r.out.dump(2);
    // Reach runs alongside the stages after it: the run's own time is the wall time minus
    // resolve, route and the longer of reach and the rest.
    auto ms = [&](const char* name) { return stage(r, name).at("duration_ms").get<double>(); };
    const double rest = ms("connect") + ms("secure") + ms("talk") + ms("close");
    overhead.push_back(r.out.at("duration_ms").get<double>() - ms("resolve") - ms("route") - std::max(ms("reach"), rest));
    ours[0].push_back(stage(r, "resolve").at("duration_ms").get<double>());
    ours[1].push_back(stage(r, "connect").at("duration_ms").get<double>());
    ours[2].push_back(stage(r, "secure").at("duration_ms").get<double>());
    ours[3].push_back(stage(r, "talk").at("evidence").at("first_byte_ms").get<double>());

    auto c = lab().exec(Node::client, {"curl", "-sS", "-o", "/dev/null", "--cacert", ca, "--resolve", pinned,
                                       "-w", "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer}",
                                       url}, 10s);
    ASSERT_EQ(c.exit_code, 0) << c.err;
    std::istringstream in(c.out);
    double name = 0, connect = 0, app = 0, start = 0;
    ASSERT_TRUE(in >> name >> connect >> app >> start) << c.out;
    curls[0].push_back(name * 1000);
    curls[1].push_back((connect - name) * 1000);
    curls[2].push_back((app - connect) * 1000);
    curls[3].push_back((start - app) * 1000);
  }
  const char* names[] = {"resolve / time_namelookup", "connect / time_connect", "secure / time_appconnect",
                         "first byte / time_starttransfer"};
  for (int p = 0; p < 4; ++p) {
    std::vector<double> diffs;
    for (int i = 0; i < kRuns; ++i) diffs.push_back(ours[p][i] - curls[p][i]);
    const double a = median(ours[p]), b = median(curls[p]), d = median(diffs);
    std::printf("%-32s connscope %.3f ms  curl %.3f ms  paired difference %+.3f ms\n", names[p], a, b, d);
    EXPECT_NEAR(d, 0.0, 1.0) << names[p];
  }
  std::printf("own time (wall - stages): median %.3f ms, max %.3f ms\n", median(overhead),
              *std::max_element(overhead.begin(), overhead.end()));
  EXPECT_LE(*std::max_element(overhead.begin(), overhead.end()), 5.0);
}

INSTANTIATE_TEST_SUITE_P(Families, DoctorTimingLab, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace connscope::lab
