#!/usr/bin/env python3
"""Renders the scenario matrix's results (JSON lines written by matrix_lab_test with
CONNSCOPE_MATRIX_ANCHORS=FILE) as the Markdown that docs/ACCURACY.md holds between its
`<!-- matrix:begin -->` and `<!-- matrix:end -->` markers.

usage: accuracy_table.py RESULTS.jsonl DOC.md COMMAND DATE
"""
import json
import sys
from collections import OrderedDict

TOOLS = ["connscope", "nmap", "curl", "blackbox"]
TOOL_NAMES = {"connscope": "connscope doctor", "nmap": "nmap -sT --reason", "curl": "curl",
              "blackbox": "blackbox_exporter"}


def judged(line, tool):
    """(stage, cause) the tool said, or None when it does not speak to this cell."""
    if tool == "connscope":
        j = line["connscope"]
    else:
        j = line["anchors"].get(tool)
    if j is None:
        return None
    return (j["stage"], j["cause"])


def show(j):
    if j is None:
        return "n/a"
    stage, cause = j
    return cause if not stage else f"{stage}/{cause}"


def main():
    results_path, doc_path, command, date = sys.argv[1:5]
    lines = [json.loads(l) for l in open(results_path) if l.strip()]
    order = {}
    lines.sort(key=lambda l: l["cell"])
    right = {t: 0 for t in TOOLS}
    asked = {t: 0 for t in TOOLS}
    by_fault = OrderedDict()
    rows = []
    for l in lines:
        truth = (l["truth"]["stage"], l["truth"]["cause"])
        marks = []
        per_fault = by_fault.setdefault(l["fault"], {t: [0, 0] for t in TOOLS})
        for t in TOOLS:
            j = judged(l, t)
            if j is None:
                marks.append("n/a")
                continue
            ok = j == truth
            asked[t] += 1
            right[t] += ok
            per_fault[t][0] += ok
            per_fault[t][1] += 1
            marks.append(("✓ " if ok else "✗ ") + show(j))
        exp = l["expected"]
        want = "ok" if exp["status"] == "ok" else f'{exp["status"]} {exp["stage"]} `{exp["finding"]}`'
        got = l["connscope"]
        said = "ok" if got["status"] == "ok" else f'{got["status"]} {got["stage"]} `{got["finding"]}`'
        rows.append(f'| {l["cell"]} | {want} | {said} | {show(truth)} | ' + " | ".join(marks) + " |")
    out = []
    out.append(f"Produced by `{command}` on {date}: {len(lines)} cells.")
    out.append("")
    out.append("| tool | right (stage and cause) | cells it speaks to |")
    out.append("|---|---|---|")
    for t in TOOLS:
        frac = f"{right[t]}/{asked[t]} = {100.0 * right[t] / asked[t]:.1f} %" if asked[t] else "n/a"
        out.append(f"| {TOOL_NAMES[t]} | {frac} | {asked[t]} of {len(lines)} |")
    out.append("")
    out.append("Per fault (right / asked):")
    out.append("")
    out.append("| fault | " + " | ".join(TOOL_NAMES[t] for t in TOOLS) + " |")
    out.append("|---|" + "---|" * len(TOOLS))
    for f, per in by_fault.items():
        out.append(f"| {f} | " + " | ".join(f"{per[t][0]}/{per[t][1]}" if per[t][1] else "n/a" for t in TOOLS) + " |")
    out.append("")
    out.append("<details><summary>Every cell</summary>")
    out.append("")
    out.append("| cell | doctor must say | doctor said | truth (stage/cause) | connscope | nmap | curl | blackbox |")
    out.append("|---|---|---|---|---|---|---|---|")
    out.extend(rows)
    out.append("")
    out.append("</details>")
    table = "\n".join(out)

    doc = open(doc_path).read()
    begin, end = "<!-- matrix:begin -->", "<!-- matrix:end -->"
    a, b = doc.index(begin) + len(begin), doc.index(end)
    open(doc_path, "w").write(doc[:a] + "\n" + table + "\n" + doc[b:])


if __name__ == "__main__":
    main()
