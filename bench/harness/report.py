"""The harness's printed tables: a scenario's figures with its targets, and current / REV side by side."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence

from harness.core import Run, Scenario, Target
from harness.tools import Code, median, paired_ratio

COMPARE_LIMIT = 1.10  # "the benchmarks stay within 10 % of" the revision compared with


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    python = platform.python_version()
    return f"{time.strftime('%Y-%m-%d %H:%M')} | {os.cpu_count()} cores | python {python} | load {load}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([f"\n{title}", line, rule, *body])


def cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def listing(items: Sequence[Scenario]) -> str:
    rows = [
        [s.name, s.what, ", ".join(f"{n:,}" for n in s.sizes), "skipped" if s.smoke_skip else f"{s.smoke:,}"]
        for s in items
    ]
    return table("Scenarios", ["name", "what", "sizes", "smoke size"], rows)


def verdict(target: Target, run: Run) -> tuple[float, str]:
    value = target.value(run.current())
    return value, ("PASS" if value <= target.bound else "FAIL")


def figures(item: Scenario, runs: Sequence[Run], under_test: Sequence[Code]) -> str:
    rows: list[list[object]] = []
    for run in runs:
        for name, values in sorted(run.baseline.items()):
            rows.append([f"{run.size:,}", f"baseline: {name}", median(values), len(values)])
        for name, values in sorted(run.project.get("current", {}).items()):
            rows.append([f"{run.size:,}", name, median(values), len(values)])
    text = table(f"{item.name}: {item.what} (medians, {item.unit})", ["size", "figure", "median", "n"], rows)
    checks = [
        [f"{r.size:,}", t.label(), *verdict(t, r), t.why]
        for r in runs
        for t in item.targets
        if t.applies(r.size)
    ]
    if checks:
        text += "\n" + table(f"{item.name}: targets", ["size", "target", "value", "verdict", "why"], checks)
    if len(under_test) > 1:
        text += "\n" + compared(item, runs, under_test[1])
    return text


def compared(item: Scenario, runs: Sequence[Run], old: Code) -> str:
    rows: list[list[object]] = []
    for run in runs:
        for name, new in sorted(run.project.get("current", {}).items()):
            before = run.project[old.label].get(name)
            if before is None:  # a figure measured on the current code only
                continue
            ratio = paired_ratio(new, before)
            ok = "PASS" if ratio <= COMPARE_LIMIT else "FAIL"
            rows.append(
                [
                    f"{run.size:,}",
                    name,
                    median(new),
                    median(before),
                    ratio,
                    len(new),
                    f"{ok} ≤ {COMPARE_LIMIT:.2f}",
                ]
            )
    headers = ["size", "figure", "current", old.label, f"current / {old.label}", "pairs", "verdict"]
    return table(
        f"{item.name}: current vs {old.label}, side by side (median of paired ratios)", headers, rows
    )
