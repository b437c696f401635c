#!/usr/bin/env python3
"""Rewrites docs/ACCURACY.md's hostile-peer table from two runs of integration_hostile.

Usage: bench/hostile_table.py RELEASE_LOG ASAN_LOG docs/ACCURACY.md
Each log is the test binary's stdout: its HOSTILE and HOSTILEROW lines and gtest's OK/FAILED
lines. The table goes between <!-- hostile:begin --> and <!-- hostile:end -->.
"""
import datetime
import re
import sys


def parse(path):
    rows, stats, passed = {}, {}, {}
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("HOSTILEROW|"):
            _, name, what, expected, got = line.split("|", 4)
            rows[name] = (what, expected, got)
        m = re.match(r"HOSTILE (\S+) .*duration_ms=(\d+) .*wall_ms=(\d+) ratio=([\d.]+) rss_kib=(\d+)", line)
        if m:
            stats[m.group(1)] = (int(m.group(2)), int(m.group(3)), float(m.group(4)), int(m.group(5)))
        m = re.match(r"\[\s+(OK|FAILED)\s+\] Peers/Hostile\.EndsInTimeWithAVerdictAndAFinding/(\S+)", line)
        if m:
            passed[m.group(2).split(",")[0]] = m.group(1) == "OK"
    return rows, stats, passed


def summary(label, stats, passed):
    n = len(passed)
    ok = sum(passed.values())
    ratio = max(stats.items(), key=lambda kv: kv[1][2])
    over = max(stats.items(), key=lambda kv: kv[1][1] - kv[1][0])
    rss = max(stats.items(), key=lambda kv: kv[1][3])
    return (f"{label}: {ok} of {n} pass. Largest duration_ms / T {ratio[1][2]:.3f} (`{ratio[0]}`); "
            f"largest wall time beyond duration_ms {over[1][1] - over[1][0]} ms (`{over[0]}`); "
            f"largest peak RSS {rss[1][3] / 1024:.1f} MiB (`{rss[0]}`).")


def main():
    release, asan, doc = sys.argv[1:4]
    r_rows, r_stats, r_pass = parse(release)
    _, a_stats, a_pass = parse(asan)
    out = [f"Produced by `bench/hostile_table.py` from runs of `integration_hostile` on "
           f"{datetime.date.today().isoformat()} (Release, and Debug with ASan/UBSan).", "",
           "| behaviour | what the peer does | expected: status stage finding (exit) | "
           "Release: doctor said (exit), duration_ms, peak RSS | Release | ASan |",
           "|---|---|---|---|---|---|"]
    for name, (what, expected, got) in r_rows.items():
        mark = lambda p: "pass" if p.get(name) else "FAIL"
        out.append(f"| `{name}` | {what} | {expected} | {got} | {mark(r_pass)} | {mark(a_pass)} |")
    out += ["", summary("Release", r_stats, r_pass), "", summary("ASan/UBSan (Debug)", a_stats, a_pass)]
    text = open(doc, encoding="utf-8").read()
    begin, end = "<!-- hostile:begin -->", "<!-- hostile:end -->"
    a, b = text.index(begin) + len(begin), text.index(end)
    open(doc, "w", encoding="utf-8").write(text[:a] + "\n" + "\n".join(out) + "\n" + text[b:])


if __name__ == "__main__":
    main()
