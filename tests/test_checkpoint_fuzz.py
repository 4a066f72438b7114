"""Fuzzing checkpoint files: a CheckpointError or a skip, never a hang, never a half-changed model.

Issue 13 point 8 (the checkpoint half). Each example damages one checkpoint
(truncation, bit flips, crafted JSON with or without a matching manifest,
special files, symlinks, deletion) and loads it through every path:
`load_checkpoint`, `Model.load`, `load_weights`, restoring into a trained
model, and `fit(checkpoint_dir=...)` with it as the newest checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import epochal as ep
from epochal.checkpoint import load_checkpoint
from epochal.errors import CheckpointError

X = np.random.default_rng(2).normal(size=(24, 3)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")
FILES = ["weights.safetensors", "state.pt", "meta.json", "manifest.json", "history.jsonl"]
DEADLINE_S = 30.0


def module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())


def build() -> ep.Model:
    model = ep.Model(module(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=1)
    return model


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    """A checkpoint_dir of two epochs (epoch-000001, epoch-000002), made once."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        build().fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root, keep_checkpoints=None)
        yield root


def snapshot(model: ep.Model) -> tuple[Any, ...]:
    weights = tuple(v.clone() for v in model.module.state_dict().values())
    opt = model.optimizer
    run = model.run
    return (
        weights,
        run.epoch,
        run.step,
        repr(run.history.to_dict()),
        None if opt is None else repr(opt.state_dict()),
        run.rng_state.clone() if run.rng_state is not None else None,
    )


def unchanged(model: ep.Model, before: tuple[Any, ...]) -> bool:
    after = snapshot(model)
    same_weights = all(torch.equal(a, b) for a, b in zip(after[0], before[0], strict=True))
    same_rng = after[5] is None or torch.equal(after[5], before[5])
    return same_weights and after[1:5] == before[1:5] and same_rng


def within_deadline(fn: Callable[[], Any]) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), "a checkpoint load hung"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def rewrite_manifest(path: Path) -> None:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            data = (path / name).read_bytes()
            entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
        (path / "manifest.json").write_text(json.dumps(manifest))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        pass  # a manifest already destroyed (or nested too deep to read) stays so


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def damages(draw: st.DrawFn) -> tuple[str, str, Any, bool]:
    name = draw(st.sampled_from(FILES))
    kind = draw(
        st.sampled_from(
            [
                "truncate",
                "flip",
                "json",
                "edit-key",
                "deep",
                "fifo",
                "dev-zero",
                "outside",
                "dir",
                "delete",
            ]
        )
    )
    if kind == "truncate":
        arg: Any = draw(st.floats(0.0, 0.999))
    elif kind == "flip":
        arg = (draw(st.floats(0.0, 0.999)), draw(st.integers(0, 7)))
    elif kind == "json":
        arg = draw(JSON)
    elif kind == "edit-key":
        arg = (
            draw(
                st.sampled_from(
                    [
                        "epoch",
                        "step",
                        "seed",
                        "kind",
                        "stopped",
                        "phase",
                        "compile",
                        "events",
                        "baseline_loss",
                        "sequence",
                        "files",
                        "format_version",
                    ]
                )
            ),
            draw(JSON),
        )
    elif kind == "deep":
        arg = draw(st.integers(65, 50_000))
    else:
        arg = None
    return name, kind, arg, draw(st.booleans())


def apply(path: Path, damage: tuple[str, str, Any, bool]) -> None:
    name, kind, arg, fix_manifest = damage
    file = path / name
    if kind == "truncate":
        data = file.read_bytes()
        file.write_bytes(data[: int(len(data) * arg)])
    elif kind == "flip":
        data = bytearray(file.read_bytes())
        if data:
            data[int(len(data) * arg[0])] ^= 1 << arg[1]
        file.write_bytes(bytes(data))
    elif kind == "json":
        file.write_text(json.dumps(arg))
    elif kind == "edit-key":
        try:
            doc = json.loads(file.read_text())
            if isinstance(doc, dict):
                doc[arg[0]] = arg[1]
            file.write_text(json.dumps(doc))
        except (ValueError, UnicodeDecodeError):
            file.write_text(json.dumps({arg[0]: arg[1]}))
    elif kind == "deep":
        file.write_text("[" * arg + "]" * arg)
    elif kind == "fifo":
        file.unlink()
        os.mkfifo(file)
    elif kind == "dev-zero":
        file.unlink()
        file.symlink_to("/dev/zero")
    elif kind == "outside":
        copy = path.parent.parent / f"outside-{name}"
        copy.write_bytes(file.read_bytes())
        file.unlink()
        file.symlink_to(copy)
    elif kind == "dir":
        file.unlink()
        file.mkdir()
    elif kind == "delete":
        file.unlink()
    if fix_manifest and kind in ("truncate", "flip", "json", "edit-key", "deep"):
        rewrite_manifest(path)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage=damages())
def test_a_damaged_checkpoint_is_refused_whole_or_skipped(
    template: Path, damage: tuple[str, str, Any, bool]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        shutil.copytree(template, root, symlinks=True)
        newest = root / "epoch-000002"
        apply(newest, damage)

        with suppress(CheckpointError):
            within_deadline(lambda: load_checkpoint(newest))
        with suppress(CheckpointError):
            within_deadline(lambda: ep.Model.load(newest, module=module()))

        trained = build()
        trained.fit(X[:8], Y[:8], epochs=1, verbose=0)
        before = snapshot(trained)
        try:
            within_deadline(lambda: trained.load_weights(newest))
        except CheckpointError:
            assert unchanged(trained, before), "a refused load_weights changed the model"
        before = snapshot(trained)  # load_weights may have taken the weights
        try:
            within_deadline(lambda: trained._trainer.load(load_checkpoint(newest)))
        except CheckpointError:
            assert unchanged(trained, before), "a refused restore changed the model or run"

        # As the newest checkpoint of a checkpoint_dir: resumed from, or skipped with a warning.
        model = build()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            within_deadline(lambda: model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root))
        skipped = any("Skipping damaged checkpoint" in str(w.message) for w in caught)
        if skipped:  # resumed from epoch-000001 and trained epoch 2: the uninterrupted bits
            reference = build()
            reference.fit(X, Y, epochs=2, verbose=0)
            assert model.run.epoch == 2
            for key, value in reference.module.state_dict().items():
                assert torch.equal(model.module.state_dict()[key], value), key
