"""The ``epochal`` command line: ``epochal demo``, ``epochal report RUN_DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochal", description="epochal: Keras-style training for PyTorch"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small network on bundled data, with early stopping")
    demo.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="progress display")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from epochal.demo import main as demo_main

        return demo_main(verbose=args.verbose)
    return 2  # pragma: no cover - argparse rejects unknown commands
