"""The ``epochal`` command line: ``epochal demo``, ``epochal report RUN_DIR``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "report"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochal", description="epochal: Keras-style training for PyTorch"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small network on bundled data, with early stopping")
    demo.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="progress display")
    demo.add_argument(
        "--run-dir", default="runs/demo", help="where the demo saves its run and report"
    )
    rep = sub.add_parser("report", help="write an HTML report of a saved run and print its verdict")
    rep.add_argument(
        "run_dir",
        help="a checkpoint (model.save), a fit checkpoint_dir, or a directory holding either",
    )
    rep.add_argument("-o", "--output", default=None, help="the HTML file to write")
    return parser


def report(run_dir: str | Path, output: str | Path | None = None) -> tuple[Path, str]:
    """Write the HTML report of the run saved under ``run_dir``; returns (path, verdict line).

    The report goes to ``output``, by default ``report.html`` inside ``run_dir``
    (beside the checkpoint when ``run_dir`` is a checkpoint itself).
    """
    from epochal.report import report_checkpoint

    path, diagnosis = report_checkpoint(run_dir, output)
    return path, diagnosis.summary


def _one_line(exc: BaseException) -> str:
    """The exception as one line: its message, or its type when it has none."""
    from epochal.errors import EpochalError

    text = " ".join(str(exc).split())
    if isinstance(exc, EpochalError) and text:
        return text
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        return f"{exc.strerror}{where}"
    # Anything else read from a run (a malformed history, ...) is named by its type.
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from epochal.demo import main as demo_main

        return demo_main(verbose=args.verbose, run_dir=args.run_dir)
    if args.command == "report":
        path, verdict = report(args.run_dir, args.output)
        print(verdict)
        print(f"report: {path}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A failure is one line on stderr and exit status 1 (130 when interrupted),
    never a traceback; set the environment variable ``EPOCHAL_DEBUG=1`` to
    see the traceback.
    """
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(f"epochal {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("EPOCHAL_DEBUG"):
            raise
        print(f"epochal {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1
