"""Benchmark epochal against a hand-written PyTorch loop (and, optionally, its peers).

Usage, from the repository root::

    python bench/run.py                        # workloads a-d, 5 repeats, CUDA if available
    python bench/run.py --workloads a,b --repeats 9 --verbose-bar
    python bench/run.py --device cuda          # the GPU variant, same table
    .venv-bench/bin/python bench/run.py --peers --workloads a,b,c
    python bench/run.py --quick --repeats 1    # tiny sizes: a smoke test
    python bench/run.py --threads 1 --repeats 9 --compile   # the speed suite (issue 14)

Progress goes to stderr; the Markdown table to stdout (and ``--json PATH``
saves every measurement). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: import `bench` from the repository root, and let no module
    # of this folder shadow a standard one (the script's folder comes first).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch

from bench import peers
from bench.compare import WorkloadResult, compare, stats
from bench.report import Row, machine_info, markdown_table, rows_for
from bench.runners import device_arg, pin_to_one_core, set_clock
from bench.workloads import workloads

__all__ = ["main", "parse_args"]


def _keys(value: str) -> list[str]:
    keys = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in keys if k not in "abcd" or len(k) != 1]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"--workloads takes a comma-separated subset of a,b,c,d. Received: {value!r}"
        )
    return keys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workloads", type=_keys, default=list("abcd"), help="default: a,b,c,d")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument(
        "--device",
        type=device_arg,
        default=torch.device("cuda" if torch.cuda.is_available() else "cpu"),
        help="cpu or cuda (default: cuda if available)",
    )
    parser.add_argument(
        "--verbose-bar",
        action="store_true",
        help="also time epochal with verbose=1 (the bar is drawn to a fake terminal)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time epochal with compile=True (steady state; warm-up reported apart)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also time Keras 3, Lightning, Poutyne and skorch on a-c, where installed",
    )
    parser.add_argument(
        "--only-peers",
        type=lambda v: [p.strip() for p in v.split(",") if p.strip()],
        default=None,
        help=f"with --peers: a comma-separated subset of {','.join(peers.PEERS)}",
    )
    parser.add_argument(
        "--peer-python",
        default=sys.executable,
        help="the Python that runs the peers (default: this one)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for every side (default: torch's own choice, reported)",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: elapsed time (default); cpu: the process's CPU time, stable on a shared "
        "machine with --threads 1 (CPU only)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="save all results to PATH")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1. Received: {args.repeats}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1. Received: {args.threads}")
    unknown = [p for p in args.only_peers or [] if p not in peers.PEERS]
    if unknown:
        parser.error(f"--only-peers takes names from {', '.join(peers.PEERS)}. Received: {unknown}")
    if args.clock == "cpu" and args.device.type != "cpu":
        parser.error("--clock cpu measures CPU time: use it with --device cpu")
    return args


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _to_json(results: list[WorkloadResult], peer_results: list[peers.PeerResult]) -> dict:
    out: dict = {"workloads": {}, "peers": [p.to_dict() for p in peer_results]}
    for result in results:
        out["workloads"][result.workload.key] = {
            "title": result.workload.title,
            "steps": result.steps,
            "ms_per_step": {s.name: s.ms_per_step for s in result.sides},
            "ratio": {s.name: asdict(stats(s.ratios(result.hand))) for s in result.sides[1:]},
            "warmup_seconds": {s.name: s.warmup_seconds for s in result.sides if s.warmup_seconds},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device: torch.device = args.device
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    set_clock(args.clock)
    info = machine_info(device)
    info["clock"] = args.clock
    if args.threads == 1 and device.type == "cpu":
        info["affinity"] = pin_to_one_core()  # the peers' processes are pinned the same way
    _log("epochal benchmark: " + "; ".join(f"{k}: {v}" for k, v in info.items()))
    all_workloads = workloads(quick=args.quick)

    results = []
    rows: list[Row] = []
    for key in args.workloads:
        workload = all_workloads[key]
        _log(f"({key}) {workload.title}: warm-up, then {args.repeats} alternating repeats")
        result = compare(
            workload,
            repeats=args.repeats,
            seed=args.seed,
            device=device,
            verbose_bar=args.verbose_bar,
            compiled=args.compile,
            progress=_log,
        )
        results.append(result)
        rows.extend(rows_for(result))

    peer_results: list[peers.PeerResult] = []
    if args.peers:
        peer_keys = [k for k in args.workloads if k in peers.PEER_WORKLOADS]
        peer_results = peers.run_all(
            peer_keys,
            repeats=args.repeats,
            device=device,
            quick=args.quick,
            seed=args.seed,
            python=args.peer_python,
            log=_log,
            threads=args.threads,
            clock_name=args.clock,
            peers=args.only_peers,
        )
        rows.extend(peers.rows(peer_results, all_workloads))
        rows.sort(key=lambda r: r.key)  # stable: each workload's rows stay in order

    print(markdown_table(rows, info))
    skipped = [p for p in peer_results if p.skipped]
    for p in skipped:
        print(f"\n- {p.peer}: skipped ({p.skipped})")
    if args.json is not None:
        payload = {"machine": info, **_to_json(results, peer_results)}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        _log(f"results saved to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
