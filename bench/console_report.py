"""bench.console's section of bench/RESULTS.md: server time per page and backend, and the query plans."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

START = "<!-- bench.console: start (generated; re-running replaces this section) -->"
END = "<!-- bench.console: end -->"
TARGET_MS = 200.0


@dataclass(frozen=True)
class PageResult:
    name: str
    path: str
    times_ms: list[float]
    rows: int  # event rows on the page
    plans: list[tuple[str, str]]  # (statement, plan) for each SELECT the page ran

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class BackendResult:
    backend: str
    events: int
    pages: list[PageResult]


def render(
    command: str, when: str, machine: dict[str, str], rounds: int, backends: list[BackendResult]
) -> str:
    lines = [START, "## Ops console: server time with a large ledger", "",
             f"Measured {when} with `.venv/bin/{command}`: {backends[0].events:,} events per ledger,"
             f" {rounds} requests per page after 3 warm-ups, time from the console's `Server-Timing` header.",
             ""]  # fmt: skip
    header = "| page | " + " | ".join(f"{b.backend} median / p95, ms" for b in backends) + " | rows |"
    lines += [header, "|---|" + "---:|" * len(backends) + "---:|"]
    for n, page in enumerate(backends[0].pages):
        cells = [f"{b.pages[n].median:.1f} / {b.pages[n].p95:.1f}" for b in backends]
        lines.append(f"| {page.name} (`{page.path}`) | " + " | ".join(cells) + f" | {page.rows} |")
    lines += ["", f"Target: the overview and a filtered events page under {TARGET_MS:.0f} ms server time."]
    for b in backends:
        checked = [
            p for p in b.pages if p.name == "overview" or ("events," in p.name and "first" not in p.name)
        ]
        worst = max(checked, key=lambda p: p.p95)
        verdict = "met" if worst.p95 < TARGET_MS else "**missed**"
        lines.append(f"- {b.backend}: slowest of those, p95 {worst.p95:.1f} ms ({worst.name}): {verdict}")
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), "", "### Query plans", ""]
    for b in backends:
        for page in b.pages:
            if not page.plans:
                continue
            lines += [f"<details><summary>{b.backend}: {page.name}</summary>", ""]
            for statement, plan in page.plans:
                lines += ["```sql", _short(statement), "```", "```", plan, "```", ""]
            lines += ["</details>", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _short(statement: str) -> str:
    """A select of every column of ``events`` is named as such instead of listing all 19."""
    columns = re.match(r"SELECT (.*?) FROM ", statement)
    if columns and columns.group(1).count(",") > 8:
        names = columns.group(1).split(", ")
        return statement.replace(columns.group(1), f"<all {len(names)} columns of events>", 1)
    return statement
