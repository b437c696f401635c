// Every finding id connscope emits renders from its evidence alone, in every language: a matrix
// over all ids (rules/finding_text.h: known_finding_ids), with the evidence the rules themselves
// record (server, audit and event rules run on recorded inputs that raise every finding and its
// variants) and, for the client catalog, evidence with every name its texts quote.
#include "rules/finding_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "probe/icmp.h"
#include "rules/client_findings.h"
#include "rules/event_rules.h"
#include "rules/server_rules.h"
#include "rules/sysctl_rules.h"

namespace connscope::rules {
namespace {

constexpr std::array kLangs{Lang::en, Lang::zh_CN};

void append(std::vector<Finding>& out, std::vector<Finding> more) {
  for (auto& f : more) out.push_back(std::move(f));
}

// A busy host where every server rule fires, with owners, sources and syncookies on.
ServerEvidence server_everything(bool owners) {
  ServerEvidence e;
  e.interval_s = 1;
  e.rates = {{"ListenOverflows", 40}, {"TCPReqQFullDrop", 12}, {"SyncookiesSent", 30},
             {"RetransSegs", 400},    {"OutSegs", 5000},       {"OutRsts", 250}};
  ListenerEvidence full;
  full.address = "0.0.0.0:80";
  full.port = 80;
  full.accept_queue = 129;
  full.accept_queue_limit = 128;
  full.queue_full_at_first_sample = true;
  ListenerEvidence high = full;
  high.address = "0.0.0.0:8080";
  high.port = 8080;
  high.accept_queue = 110;
  high.queue_full_at_first_sample = false;
  if (owners) {
    full.pid = 1234;
    full.command = "nginx";
    full.open_fds = 1000;
    full.nofile_soft = 1024;
    high.pid = 1300;
    high.command = "api";
  }
  e.listeners = {full, high};
  e.close_wait.push_back({owners ? 1234 : 0, owners ? "nginx" : "", 80, 300, 290});
  e.close_wait.push_back({owners ? 1234 : 0, owners ? "nginx" : "", 0, 40, std::nullopt});
  e.time_wait_by_destination.push_back({"10.0.0.5:5432", 20000});
  if (owners) e.syn_recv_by_source.push_back({"203.0.113.9", 900});
  e.syn_recv_total = 1500;
  e.orphans = 60000;
  e.max_orphans = 65536;
  e.local_port_count = 28232;
  e.max_syn_backlog = 2048;
  if (owners) e.syncookies = true;
  return e;
}

// Every sysctl the audit can find below its recommendation, conntrack filling, a low nofile.
AuditEvidence audit_everything() {
  AuditEvidence e;
  e.sysctls = {
      {"net.core.somaxconn", "128"},           {"net.ipv4.tcp_max_syn_backlog", "256"},
      {"net.ipv4.tcp_syncookies", "0"},        {"net.ipv4.tcp_abort_on_overflow", "1"},
      {"net.ipv4.tcp_tw_reuse", "0"},          {"net.ipv4.tcp_tw_recycle", "1"},
      {"net.ipv4.ip_local_port_range", "32768\t60999"}, {"net.ipv4.tcp_max_tw_buckets", "4096"},
      {"net.ipv4.tcp_max_orphans", "4096"},    {"fs.file-max", "65536"},
      {"fs.nr_open", "65536"},                 {"net.netfilter.nf_conntrack_max", "65536"},
      {"net.netfilter.nf_conntrack_count", "64000"},
  };
  AuditListener l;
  l.address = "0.0.0.0:80";
  l.port = 80;
  l.backlog_limit = 128;
  l.pid = 1234;
  l.command = "nginx";
  l.nofile_soft = 1024;
  l.open_fds = 200;
  e.listeners.push_back(l);
  return e;
}

EventEvidence events_everything(bool owners) {
  EventEvidence e;
  e.window_s = 1;
  ListenerOverflows o;
  o.listener = "0.0.0.0:80";
  o.port = 80;
  o.accept_overflows = 40;
  o.backlog = 129;
  o.max_backlog = 128;
  if (owners) o.peers = {{"198.51.100.20", 30}};
  e.overflows.push_back(o);
  PortDrops d;
  d.port = 443;
  d.drops = 12;
  if (owners) d.peers = {{"203.0.113.5", 11}};
  e.firewall_drops.push_back(d);
  e.listening_ports = {80, 443};
  if (owners) {
    e.owners[80] = {1234, "nginx"};
    e.owners[443] = {1234, "nginx"};
  }
  return e;
}

// The {names} a catalog text quotes.
std::set<std::string> names_in(Msg id) {
  std::set<std::string> out;
  const std::string t(text_template(Lang::en, id));
  const std::regex re(R"(\{([a-z_]+)\})");
  for (auto it = std::sregex_iterator(t.begin(), t.end(), re); it != std::sregex_iterator(); ++it) out.insert((*it)[1]);
  return out;
}

// The findings every rule records, each id with all the cases its texts distinguish.
std::vector<Finding> recorded() {
  std::vector<Finding> out;
  append(out, evaluate_server(server_everything(true)));
  append(out, evaluate_server(server_everything(false)));
  append(out, evaluate_audit(audit_everything()).findings);
  append(out, evaluate_events(events_everything(true)));
  append(out, evaluate_events(events_everything(false)));
  // The client catalog: every name its texts quote, with values as the doctor records them.
  for (const auto& spec : client_findings_catalog()) {
    Finding f;
    f.id = std::string(spec.id);
    f.severity = spec.severity;
    for (Msg m : {spec.summary, spec.cause, spec.fix}) {
      for (const auto& n : names_in(m)) f.evidence[n] = n == plural_count_name(spec.summary) ? "2" : "198.51.100.7";
    }
    // Every token the evidence may hold for one of its keys, the ICMP errors and the values
    // rendered from others (the rate-limit note, one address's failure) among them.
    std::vector<Finding> variants;
    for (const auto& [key, value] : evidence_tokens()) {
      if (!f.evidence.contains(std::string(key))) continue;
      Finding v = f;
      v.evidence[std::string(key)] = value == "*" ? "CN=client" : std::string(value);
      variants.push_back(std::move(v));
    }
    if (f.evidence.contains("icmp")) {
      for (const char* icmp : {"icmp:3:3", "icmp:3:13", "icmp6:1:4", "icmp:42:7", "icmp6:200:1"}) {
        Finding v = f;
        v.evidence["icmp"] = icmp;
        variants.push_back(v);
        v.evidence["icmp_from_trace"] = "yes";
        variants.push_back(std::move(v));
      }
    }
    if (f.evidence.contains("icmp_note")) {
      Finding v = f;
      v.evidence.erase("icmp_note");
      v.evidence["rate_limited_hop"] = "3";
      variants.push_back(v);
      v.evidence["rate_limited_hop"] = "";
      variants.push_back(std::move(v));
    }
    if (f.evidence.contains("failure")) {
      for (const char* id : {"tcp.refused", "tcp.filtered", "tcp.rejected_icmp"}) {
        Finding v = f;
        v.evidence.erase("failure");
        v.evidence.merge(Evidence{{"failure_id", id}, {"endpoint", "198.51.100.7:443"}, {"syns", "3"}, {"timeout", "5s"},
                                  {"icmp", "icmp:3:3"}, {"from", "198.51.100.1"}});
        variants.push_back(std::move(v));
      }
    }
    out.push_back(std::move(f));
    for (auto& v : variants) out.push_back(std::move(v));
  }
  // Settings no audit finds below its recommendation (judgement calls are "info"): rendered all
  // the same, so a finding recorded by another version still reads.
  for (const auto& id : known_finding_ids()) {
    if (!id.starts_with("sysctl.")) continue;
    if (std::any_of(out.begin(), out.end(), [&](const Finding& f) { return f.id == id; })) continue;
    const std::string name = id.substr(7);
    out.push_back({id, Severity::warning,
                   {{"name", name}, {"value", "5"}, {"recommended", "2"}, {"fix_command", "sysctl -w " + name + "=2"},
                    {"sysctl_d", name + " = 2"}},
                   "", "", ""});
  }
  return out;
}

bool has_cjk(const std::string& s) {
  // U+4E00..U+9FFF and the CJK punctuation (U+3000..U+303F, U+FF00..U+FFEF) in UTF-8.
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE4 && c <= 0xE9) return true;
  }
  return false;
}

// Three or more English words in a row, outside commands and evidence values: what an
// untranslated sentence or a glued English fragment looks like.
std::vector<std::string> english_runs(std::string text, const Evidence& evidence) {
  // Commands keep their words in every language; in Chinese text one runs to the next character
  // that is not ASCII (a Chinese colon may follow the command's name: "nft：…").
  static const std::regex command(
      R"((nft|ss|iptables|ip6tables|sysctl|tcpdump|dig|openssl|curl|ulimit|ip|ls|grep|nc|listen|dmesg|connscope)( |：)[\x01-\x7F]*)");
  text = std::regex_replace(text, command, "#");
  // So do the kernel's messages, quoted as it logs them.
  static const std::regex quoted("'[^']*'");
  text = std::regex_replace(text, quoted, "#");
  // And the protocols' own words (ICMP names, a server's reply), which the Chinese texts quote
  // beside their translation.
  static const std::regex terms(
      "communication administratively prohibited|packet too big|host not allowed|reject with icmp admin|"
      "intvl x probes");
  text = std::regex_replace(text, terms, "#");
  // Evidence values are data (addresses, names, what a peer said), not prose.
  for (const auto& [k, v] : evidence) {
    if (v.size() < 3) continue;
    std::string out;
    std::size_t pos = 0;
    for (auto at = text.find(v); at != std::string::npos; at = text.find(v, pos)) {
      out.append(text, pos, at - pos);
      out += '#';
      pos = at + v.size();
    }
    out.append(text, pos, std::string::npos);
    text = std::move(out);
  }
  static const std::regex run(R"([A-Za-z][a-z']*(?: [A-Za-z][a-z']*){2,})");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), run); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[0]);
  }
  return out;
}

TEST(FindingText, EveryIdRendersFromRecordedEvidenceInEveryLanguage) {
  const auto findings = recorded();
  std::set<std::string> covered;
  const std::regex placeholder(R"(\{[a-z_]+\})");
  for (const auto& f : findings) {
    covered.insert(f.id);
    std::map<Lang, FindingText> by_lang;
    for (const Lang lang : kLangs) {
      auto text = render_finding_text(f.id, f.severity, f.evidence, lang);
      ASSERT_TRUE(text.has_value()) << f.id << " in " << lang_name(lang) << ": " << text.error().message();
      for (const auto* part : {&text->summary, &text->cause, &text->fix}) {
        EXPECT_FALSE(part->empty()) << f.id;
        EXPECT_FALSE(std::regex_search(*part, placeholder)) << f.id << " in " << lang_name(lang) << ": " << *part;
      }
      by_lang[lang] = std::move(*text);
    }
    const auto& en = by_lang[Lang::en];
    const auto& zh = by_lang[Lang::zh_CN];
    for (const auto& [e, z] : {std::pair{&en.summary, &zh.summary}, {&en.cause, &zh.cause}, {&en.fix, &zh.fix}}) {
      EXPECT_TRUE(has_cjk(*z)) << f.id << ": " << *z;
      EXPECT_NE(*e, *z) << f.id;
      EXPECT_EQ(english_runs(*z, f.evidence), std::vector<std::string>{}) << f.id << ": " << *z;
    }
  }
  for (const auto& id : known_finding_ids()) EXPECT_TRUE(covered.contains(id)) << id << " has no recorded evidence";
}

TEST(FindingText, EveryIcmpErrorProbeNamesIsSaidInTheReadersLanguage) {
  // probe/icmp.h's table is the one list of ICMP names; the catalog has each of them.
  for (const auto* origin : {"icmp", "icmp6"}) {
    for (int type = 0; type < 256; ++type) {
      for (int code = 0; code < 16; ++code) {
        const auto o = std::string(origin) == "icmp6" ? probe::ErrOrigin::icmp6 : probe::ErrOrigin::icmp;
        const auto words = probe::icmp_known_name(o, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(code));
        if (!words) continue;
        Evidence e;
        const auto* spec = find_client_spec("tcp.rejected_icmp");
        for (Msg m : {spec->summary, spec->cause, spec->fix}) {
          for (const auto& n : names_in(m)) e[n] = "198.51.100.7";
        }
        e["icmp"] = fmt::format("{}:{}:{}", origin, type, code);
        auto en = render_finding_text("tcp.rejected_icmp", Severity::critical, e, Lang::en);
        auto zh = render_finding_text("tcp.rejected_icmp", Severity::critical, e, Lang::zh_CN);
        ASSERT_TRUE(en.has_value()) << en.error().message();
        ASSERT_TRUE(zh.has_value()) << zh.error().message();
        EXPECT_NE(en->summary.find(std::string(*words)), std::string::npos) << en->summary;
        EXPECT_EQ(zh->summary.find(std::string(*words)), std::string::npos) << zh->summary;
        EXPECT_NE(zh->summary.find(fmt::format("type {} code {}", type, code)), std::string::npos) << zh->summary;
      }
    }
  }
}

TEST(FindingText, TheRulesTextsAreTheRenderersTexts) {
  // One path: what a rule puts in a finding is what rendering its id and evidence gives.
  for (const Lang lang : kLangs) {
    std::vector<Finding> fs = evaluate_server(server_everything(true), lang);
    append(fs, evaluate_audit(audit_everything(), lang).findings);
    append(fs, evaluate_events(events_everything(false), lang));
    for (const auto& f : fs) {
      const auto again = rendered_in(f, lang);
      EXPECT_EQ(again.summary, f.summary) << f.id;
      EXPECT_EQ(again.cause, f.cause) << f.id;
      EXPECT_EQ(again.fix, f.fix) << f.id;
    }
  }
}

TEST(FindingText, EachCaseIsAWholeSentenceChosenFromTheEvidence) {
  auto owner = render_finding_text("tcp.close_wait_leak", Severity::warning,
                                   {{"close_wait", "300"}, {"pid", "1234"}, {"command", "nginx"}, {"port", "80"}}, Lang::en);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->summary, "300 sockets in CLOSE_WAIT owned by nginx (pid 1234) on port 80");
  auto nobody = render_finding_text("tcp.close_wait_leak", Severity::warning, {{"close_wait", "300"}}, Lang::en);
  ASSERT_TRUE(nobody.has_value());
  EXPECT_EQ(nobody->summary, "300 sockets in CLOSE_WAIT; their owner is unknown");
  auto zh = render_finding_text("tcp.close_wait_leak", Severity::warning, {{"close_wait", "300"}, {"port", "80"}},
                                Lang::zh_CN);
  ASSERT_TRUE(zh.has_value());
  EXPECT_EQ(zh->summary, "端口 80 上有 300 个套接字处于 CLOSE_WAIT，所属进程未知");

  // tcp_syncookies stays a token; the sentence says it.
  for (const auto& [token, words] : {std::pair{"1", "although syncookies are on"}, {"0", "and syncookies are off"},
                                     {"unknown", "could not be read"}}) {
    auto f = render_finding_text("listen.syn_queue_overflow", Severity::critical,
                                 {{"syn_drops_per_s", "12"}, {"syn_recv", "10"}, {"tcp_syncookies", token}}, Lang::en);
    ASSERT_TRUE(f.has_value());
    EXPECT_NE(f->summary.find(words), std::string::npos) << f->summary;
  }
  // The peers token "none" is rendered, never shown as the token.
  auto drops = render_finding_text("host.firewall_drop", Severity::warning,
                                   {{"port", "443"}, {"drops", "3"}, {"drops_per_second", "3"}, {"window_s", "1"}, {"peers", "none"}},
                                   Lang::zh_CN);
  ASSERT_TRUE(drops.has_value());
  EXPECT_NE(drops->summary.find("主要来源：无记录"), std::string::npos) << drops->summary;
  // The critical and the warning accept-queue findings say different things.
  const Evidence q{{"address", "0.0.0.0:80"}, {"port", "80"}, {"accept_queue", "110"}, {"accept_queue_limit", "128"},
                   {"listen_overflows_per_s", "0"}};
  EXPECT_EQ(render_finding_text("listen.accept_queue_full", Severity::warning, q, Lang::en)->summary,
            "0.0.0.0:80: accept queue 110/128, near its limit");
  EXPECT_EQ(render_finding_text("listen.accept_queue_full", Severity::critical, q, Lang::en)->summary,
            "0.0.0.0:80: accept queue 110/128; 0 connections/s dropped");
}

TEST(FindingText, AConntrackAndSysctlFixNameTheFileTheAuditWrites) {
  const auto r = evaluate_audit(audit_everything());
  for (const auto& f : r.findings) {
    if (f.id == "conntrack.table_full" || f.id.starts_with("sysctl.")) {
      EXPECT_NE(f.fix.find(kSysctlDFile), std::string::npos) << f.id << ": " << f.fix;
    }
  }
}

TEST(FindingText, UnknownIdOrMissingEvidenceIsAnErrorNamingTheId) {
  auto unknown = render_finding_text("tcp.no_such_thing", Severity::warning, {}, Lang::en);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("tcp.no_such_thing"), std::string::npos);
  auto lacking = render_finding_text("tcp.resets_high", Severity::warning, {}, Lang::en);
  ASSERT_FALSE(lacking.has_value());
  EXPECT_NE(lacking.error().message().find("tcp.resets_high"), std::string::npos);
  // A rule's bug is shown, not dropped.
  const auto bug = make_finding("tcp.resets_high", Severity::warning, {}, Lang::en);
  EXPECT_NE(bug.summary.find("tcp.resets_high"), std::string::npos);
  // A finding that does not render keeps its texts.
  Finding old{"tcp.no_such_thing", Severity::warning, {}, "as stored", "c", "f"};
  EXPECT_EQ(rendered_in(old, Lang::zh_CN).summary, "as stored");
}

TEST(FindingText, SeverityNamesRoundTrip) {
  for (const Severity s : {Severity::info, Severity::warning, Severity::critical}) {
    EXPECT_EQ(severity_from_name(severity_name(s)), s);
  }
  EXPECT_FALSE(severity_from_name("fatal").has_value());
}

}  // namespace
}  // namespace connscope::rules
