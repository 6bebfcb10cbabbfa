#!/usr/bin/env python3
"""Prints the GPU check's table from results.jsonl (and env.json) and writes
it to summary.txt. Usage: summary.py OUT_DIR WORK_DIR ELAPSED_S BUDGET_S

The table has one line per check, "CHECK  STATUS  VALUE  [mark: MARK]  NOTE",
between a header line starting "check" and a footer line
"gpucheck: N PASS, N FAIL, N SKIP". The exit status is 1 when any check
failed or none ran. Plain Python (no torch), so it runs even when PyTorch is
broken.
"""
import json
import os
import sys


def rows_of(path):
    rows = []
    if os.path.exists(path):
        for ln in open(path):
            ln = ln.strip()
            if ln:
                try:
                    rows.append(json.loads(ln))
                except ValueError:
                    rows.append({"check": "results", "status": "FAIL", "value": "", "note": "bad line: " + ln[:80]})
    return rows


def main():
    out, work, elapsed, budget = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    rows = rows_of(os.path.join(out, "results.jsonl"))
    env = {}
    if os.path.exists(os.path.join(work, "env.json")):
        env = json.load(open(os.path.join(work, "env.json")))
    lines = ["gpucheck summary: %s | torch %s | transformers %s | %s | %.0f s of %.0f s" % (
        env.get("gpu", "?"), env.get("torch", "?"), env.get("transformers") or "missing",
        "DRY RUN (CPU)" if os.environ.get("GPUCHECK_DRY_RUN") == "1" else "GPU run", elapsed, budget)]
    w = max([len(r["check"]) for r in rows] + [5])
    lines.append("%-*s  %-6s  %s" % (w, "check", "result", "value  [mark]  note"))
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for r in rows:
        st = r.get("status", "FAIL")
        counts[st] = counts.get(st, 0) + 1
        parts = [r.get("value") or "-"]
        if r.get("mark"):
            parts.append("[%s]" % r["mark"])
        if r.get("note"):
            parts.append(r["note"])
        text = "  ".join(" ".join(str(p).split()) for p in parts)
        lines.append("%-*s  %-6s  %s" % (w, r["check"], st, text))
    lines.append("gpucheck: %d PASS, %d FAIL, %d SKIP" % (counts["PASS"], counts["FAIL"], counts["SKIP"]))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if counts["FAIL"] or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
