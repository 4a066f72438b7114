"""The benchmark's report: machine information and a Markdown table of ratios.

The table is Markdown so it can be pasted into the README as it is. Every
ratio is a side's time over the hand loop's time measured in the same repeat
(peers: in the same process, see `bench.peers`); "vs fused" is the median
ratio to the best hand loop (torch's fused Adam), measured the same way.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

import epochal
from bench.compare import COMPILED, Stats, WorkloadResult, stats

__all__ = [
    "COLUMNS",
    "FUSED_TARGETS",
    "TARGETS",
    "Row",
    "machine_info",
    "markdown_table",
    "rows_for",
]

COLUMNS = (
    "workload",
    "runner",
    "steps",
    "ms/step (median)",
    "ratio min",
    "ratio median",
    "ratio max",
    "target",
    "meets",
    "vs fused",
    "target (fused)",
    "meets (fused)",
    "warm-up s",
)

#: Median-ratio targets to the user's hand loop, by (workload key, runner name).
TARGETS: dict[tuple[str, str], float] = {
    ("a", "epochal verbose=0"): 0.85,
    ("b", "epochal verbose=0"): 0.85,
    ("c", "epochal verbose=0"): 0.95,
    **{(k, "epochal verbose=1"): 1.10 for k in "abc"},
    ("a", COMPILED): 0.65,
    ("b", COMPILED): 0.65,
    ("c", COMPILED): 0.90,
}

#: Median-ratio targets to the best hand loop (torch's fused optimizer).
FUSED_TARGETS: dict[tuple[str, str], float] = {(k, "epochal verbose=0"): 1.03 for k in "abcd"}


@dataclass(frozen=True)
class Row:
    """One line of the table: a runner on a workload, with its ratio to the hand loop."""

    key: str
    title: str
    runner: str
    steps: int
    ms_per_step: float  # median over repeats
    ratio: Stats | None  # None for the hand loop itself
    fused_ratio: float | None = None  # median ratio to the best hand loop
    warmup_seconds: float | None = None  # median warm-up (compile=True)

    @property
    def target(self) -> float | None:
        return TARGETS.get((self.key, self.runner))

    @property
    def fused_target(self) -> float | None:
        return FUSED_TARGETS.get((self.key, self.runner))


def rows_for(result: WorkloadResult) -> list[Row]:
    """The hand loop's row, then one per other side."""
    hand = result.hand
    wl = result.workload
    best = result.best_hand
    rows = [Row(wl.key, wl.title, hand.name, result.steps, stats(hand.ms_per_step).median, None)]
    for side in result.sides[1:]:
        fused = None
        if best is not None and side is not best:
            fused = stats(side.ratios(best)).median
        rows.append(
            Row(
                wl.key,
                wl.title,
                side.name,
                result.steps,
                stats(side.ms_per_step).median,
                stats(side.ratios(hand)),
                fused,
                stats(side.warmup_seconds).median if side.warmup_seconds else None,
            )
        )
    return rows


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict[str, str]:
    """What the numbers were measured on."""
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "epochal": epochal.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def markdown_table(rows: Iterable[Row], info: Mapping[str, str] | None = None) -> str:
    """The rows as a Markdown table, preceded by the machine information."""
    lines = []
    if info:
        lines.append("Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()))
        lines.append("")
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in rows:
        target = row.target
        if row.ratio is None:
            ratio_cells = ["1", "1", "1"]
        else:
            ratio_cells = [_fmt(row.ratio.min), _fmt(row.ratio.median), _fmt(row.ratio.max)]
        meets = ""
        if target is not None and row.ratio is not None:
            meets = "yes" if row.ratio.median <= target else "NO"
        fused_target = row.fused_target
        fused_meets = ""
        if fused_target is not None and row.fused_ratio is not None:
            fused_meets = "yes" if row.fused_ratio <= fused_target else "NO"
        cells = [
            f"({row.key}) {row.title}",
            row.runner,
            str(row.steps),
            _fmt(row.ms_per_step),
            *ratio_cells,
            "" if target is None else f"<= {target:.2f}",
            meets,
            _fmt(row.fused_ratio),
            "" if fused_target is None else f"<= {fused_target:.2f}",
            fused_meets,
            _fmt(row.warmup_seconds, 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
