"""Rows of figures, the table they make, and bench/RESULTS.md with the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import tools

PACKAGES = (
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "httpx", "typer",
    "rich", "httpie", "fastapi-cli",
)


@dataclass(frozen=True)
class Target:
    """fpx / baseline must be `op` `value` (op is "<=" or ">="); with a `unit`, fpx's own
    value must be (a figure without a baseline)."""

    op: str
    value: float
    unit: str | None = None

    def met(self, value: float) -> bool:
        return value <= self.value if self.op == "<=" else value >= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g} {self.unit or 'x'}"


@dataclass
class Row:
    """One figure: medians of the samples fpx and its baseline gave, alternately."""

    figure: str
    baseline_name: str
    unit: str
    target: Target | None = None
    fpx_samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    skipped: str | None = None
    note: str = ""

    @property
    def fpx(self) -> float | None:
        return statistics.median(self.fpx_samples) if self.fpx_samples else None

    @property
    def baseline(self) -> float | None:
        return statistics.median(self.baseline_samples) if self.baseline_samples else None

    @property
    def ratio(self) -> float | None:
        if self.fpx is None or not self.baseline:
            return None
        return self.fpx / self.baseline

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        measured = self.fpx if self.target and self.target.unit else self.ratio
        if self.target is None or measured is None:
            return "-"
        return "met" if self.target.met(measured) else "MISSED"


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def table(rows: list[Row]) -> list[list[str]]:
    head = ["figure", "fpx", "baseline", "baseline value", "ratio", "target", "result"]
    body = [head]
    for r in rows:
        body.append([
            r.figure,
            _number(r.fpx, r.unit),
            r.baseline_name,
            _number(r.baseline, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.2f} x",
            str(r.target) if r.target else "-",
            r.verdict if not r.skipped else f"skipped: {r.skipped}",
        ])
    return body


def markdown_table(rows: list[Row]) -> str:
    cells = table(rows)
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def text_table(rows: list[Row]) -> str:
    cells = table(rows)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def machine() -> list[str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    u = platform.uname()
    return [
        f"{u.system} {u.release} {u.machine}, {cpu}, {os.cpu_count()} CPUs{memory}",
        # No path of this machine: the results are committed and read elsewhere.
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{'a virtualenv' if sys.prefix != sys.base_prefix else 'no virtualenv'})",
    ]


def versions() -> list[str]:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return [
        ", ".join(found),
        f"wrk {tools.debian_version('wrk')}, hey {tools.debian_version('hey')}, "
        + " ".join(tools.version_of(["curl", "--version"]).split()[:2]),
    ]


def results_markdown(rows: list[Row], *, command: str, setup: list[str], notes: list[str]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# fpx benchmark results",
        "",
        f"Made by `{command}` on {now}. Each figure ran fpx and its baseline alternately",
        "(ABAB...) in this one run; every value is the median of its samples, and the ratio is",
        "fpx / baseline.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in machine() + versions()],
        *[f"- {line}" for line in setup],
        "",
        "## Figures",
        "",
        markdown_table(rows),
    ]
    details = [f"- **{r.figure}**: {r.note}" for r in rows if r.note]
    if details:
        parts += ["", "## Notes on the figures", "", *details]
    if notes:
        parts += ["", *notes]
    return "\n".join(parts) + "\n"
