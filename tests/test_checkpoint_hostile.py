"""Hostile checkpoints: every load path refuses them whole, bounded, and never hangs.

Covers issue 13 point 1: special files and symlinks, crafted JSON (missing
keys, wrong types, NaN, deep nesting), another architecture, a save_weights
directory where a run is expected; `Model.load`, `load_weights` and
`fit(checkpoint_dir=...)` alike, with the model and run left untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from epochal.checkpoint import load_checkpoint, verify_checkpoint
from epochal.errors import CheckpointError

X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")
DEADLINE_S = 30.0


def module(width: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 1), nn.Sigmoid())


def build(width: int = 8) -> ep.Model:
    model = ep.Model(module(width), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=3)
    return model


def snapshot(model: ep.Model) -> dict[str, Any]:
    run = model.run
    opt = model.optimizer
    return {
        "weights": {k: v.clone() for k, v in model.module.state_dict().items()},
        "epoch": run.epoch,
        "step": run.step,
        "history": run.history.to_dict(),
        "optimizer": None if opt is None else repr(opt.state_dict()),
    }


def assert_unchanged(model: ep.Model, before: dict[str, Any]) -> None:
    after = snapshot(model)
    assert after["weights"].keys() == before["weights"].keys()
    for key, value in before["weights"].items():
        assert torch.equal(after["weights"][key], value), key
    assert {k: v for k, v in after.items() if k != "weights"} == {
        k: v for k, v in before.items() if k != "weights"
    }


def rewrite_manifest(path: Path) -> None:
    """Recompute the manifest so checksums match tampered files (an attacker can)."""
    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (path / name).read_bytes()
        entry = manifest["files"][name]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (path / "manifest.json").write_text(json.dumps(manifest))


def edit_meta(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    meta = json.loads((path / "meta.json").read_text())
    change(meta)
    (path / "meta.json").write_text(json.dumps(meta))
    rewrite_manifest(path)


def within_deadline(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it has not returned in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), "loading hung: a special file was opened for reading"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = build()
    model.fit(X, Y, epochs=2, verbose=0)
    return model.save(tmp_path / "ckpt")


@pytest.fixture
def ckdir(tmp_path: Path) -> Path:
    """A checkpoint_dir after 2 epochs (keep all): epoch-000001 and epoch-000002."""
    root = tmp_path / "run"
    build().fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root, keep_checkpoints=None)
    return root


# -- special files and symlinks -----------------------------------------------
def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _outside(path: Path) -> None:
    # A symlink to an identical copy outside the checkpoint: still refused.
    copy = path.parent.parent / f"outside-{path.name}"
    copy.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(copy)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


SPECIAL = [
    pytest.param(_fifo, "FIFO", id="fifo"),
    pytest.param(_dev_zero, "symbolic link", id="dev-zero"),
    pytest.param(_outside, "symbolic link", id="outside"),
    pytest.param(_directory, "directory", id="directory"),
]
FILES = ["weights.safetensors", "state.pt", "meta.json", "manifest.json", "history.jsonl"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(("plant", "kind"), SPECIAL)
def test_special_files_are_refused_without_opening_them(
    saved: Path, name: str, plant: Callable[[Path], None], kind: str
) -> None:
    plant(saved / name)
    with pytest.raises(
        CheckpointError, match=f"'{name}' is {'a ' if kind != 'FIFO' else ''}.*{kind}"
    ):
        within_deadline(lambda: verify_checkpoint(saved))
    model = build()
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        within_deadline(lambda: ep.Model.load(saved, module=module()))
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        within_deadline(lambda: model.load_weights(saved))
    assert_unchanged(model, before)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.timeout(120)
def test_a_fifo_is_never_opened_for_reading(saved: Path) -> None:
    """Fails by deadline (never hangs) if any load path opens a FIFO: open(2) would block."""
    _fifo(saved / "meta.json")
    for load in (
        lambda: load_checkpoint(saved),
        lambda: ep.Model.load(saved, module=module()),
        lambda: build().load_weights(saved),
    ):
        with pytest.raises(CheckpointError, match="FIFO"):
            within_deadline(load)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize(("plant", "kind"), SPECIAL)
def test_fit_skips_a_newest_checkpoint_with_a_special_file(
    ckdir: Path, plant: Callable[[Path], None], kind: str
) -> None:
    plant(ckdir / "epoch-000002" / "meta.json")
    model = build()
    with pytest.warns(RuntimeWarning, match=r"Skipping damaged checkpoint .*epoch-000002.*000001"):
        within_deadline(lambda: model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=ckdir))
    # Resumed from epoch 1, then trained epoch 2 (the rest of the call).
    assert model.run.epoch == 2


# -- crafted meta.json --------------------------------------------------------
def _deep(meta: dict[str, Any]) -> None:
    meta["events"] = "DEEP"


CRAFTED = [
    pytest.param(lambda m: m.pop("seed"), "seed", id="missing-seed"),
    pytest.param(lambda m: m.pop("epoch"), "epoch", id="missing-epoch"),
    pytest.param(lambda m: m.pop("kind"), "kind", id="missing-kind"),
    pytest.param(lambda m: m.update(epoch="3"), "epoch", id="str-epoch"),
    pytest.param(lambda m: m.update(step=-1), "step", id="negative-step"),
    pytest.param(lambda m: m.update(step=True), "step", id="bool-step"),
    pytest.param(lambda m: m.update(seed=1.5), "seed", id="float-seed"),
    pytest.param(lambda m: m.update(stopped="no"), "stopped", id="str-stopped"),
    pytest.param(lambda m: m.update(phase="later"), "phase", id="bad-phase"),
    pytest.param(lambda m: m.update(baseline_loss={"$float": "nan"}), "baseline", id="nan"),
    pytest.param(lambda m: m.update(compile=[1]), "compile", id="list-compile"),
    pytest.param(lambda m: m["compile"].update(metrics="acc"), "metrics", id="str-metrics"),
    pytest.param(lambda m: m["compile"].update(learning_rate=-1), "learning_rate", id="neg-lr"),
    pytest.param(lambda m: m["compile"].update(precision="8"), "precision", id="precision"),
    pytest.param(lambda m: m.update(events=[]), "events", id="list-events"),
]


def _write_deep(path: Path, depth: int = 200_000) -> None:
    text = (path / "meta.json").read_text()
    (path / "meta.json").write_text(
        text.replace('"kind"', '"deep": ' + "[" * depth + "]" * depth + ', "kind"', 1)
    )
    rewrite_manifest(path)


@pytest.mark.parametrize(("change", "what"), CRAFTED)
def test_crafted_meta_is_a_checkpoint_error_and_changes_nothing(
    saved: Path, change: Callable[[dict[str, Any]], Any], what: str
) -> None:
    edit_meta(saved, change)
    with pytest.raises(CheckpointError, match=f"meta\\.json.*{what}|{what}.*meta\\.json"):
        ep.Model.load(saved, module=module())
    model = build()
    model.fit(X, Y, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match="meta\\.json"):
        model._trainer.load(load_checkpoint(saved))
    assert_unchanged(model, before)


def test_meta_nested_200000_deep_is_a_checkpoint_error(saved: Path) -> None:
    _write_deep(saved)
    with pytest.raises(CheckpointError, match=r"'meta\.json' nests 200001 levels deep"):
        ep.Model.load(saved, module=module())


def test_meta_with_raw_nan_is_refused(saved: Path) -> None:
    text = (saved / "meta.json").read_text()
    (saved / "meta.json").write_text(text.replace('"kind"', '"x": NaN, "kind"', 1))
    rewrite_manifest(saved)
    with pytest.raises(CheckpointError, match=r"'meta\.json' cannot be read.*NaN"):
        load_checkpoint(saved)


@pytest.mark.parametrize(("change", "what"), CRAFTED[:6])
def test_fit_skips_a_crafted_newest_checkpoint_before_changing_anything(
    ckdir: Path, change: Callable[[dict[str, Any]], Any], what: str
) -> None:
    edit_meta(ckdir / "epoch-000002", change)
    model = build()
    with pytest.warns(RuntimeWarning, match=r"Skipping damaged checkpoint .*epoch-000002"):
        model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=ckdir)
    reference = build()
    reference.fit(X, Y, epochs=2, verbose=0)
    # Resumed from the good epoch-1 checkpoint: the same bits as an uninterrupted run.
    for key, value in reference.module.state_dict().items():
        assert torch.equal(model.module.state_dict()[key], value)
    assert model.run.step == reference.run.step


def test_fit_skips_a_deeply_nested_manifest(ckdir: Path) -> None:
    depth = 200_000
    (ckdir / "epoch-000002" / "manifest.json").write_text("[" * depth + "]" * depth)
    model = build()
    with pytest.warns(RuntimeWarning, match=r"epoch-000002.*manifest\.json' nests"):
        model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=ckdir)
    assert model.run.epoch == 2


def test_malformed_manifest_entries_are_refused(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    for bad in (
        {"sequence": -1},
        {"sequence": "0"},
        {"extra": 1},
        {"files": {**manifest["files"], "../x": manifest["files"]["meta.json"]}},
        {"files": {**manifest["files"], "meta.json": {"size": "1", "sha256": "0" * 64}}},
        {"files": {**manifest["files"], "meta.json": {"size": 1, "sha256": "zz"}}},
        {"run": "../../etc"},
    ):
        (saved / "manifest.json").write_text(json.dumps({**manifest, **bad}))
        with pytest.raises(CheckpointError, match=r"'manifest\.json' is malformed"):
            verify_checkpoint(saved)


def test_huge_safetensors_header_is_refused_before_reading(saved: Path) -> None:
    file = saved / "weights.safetensors"
    data = bytearray(file.read_bytes())
    data[:8] = (10**12).to_bytes(8, "little")
    file.write_bytes(bytes(data))
    rewrite_manifest(saved)
    with pytest.raises(CheckpointError, match=r"'weights\.safetensors' has a header length"):
        ep.Model.load(saved, module=module())


def test_oversized_manifest_is_refused_before_reading(saved: Path) -> None:
    (saved / "manifest.json").write_bytes(b" " * (2 << 20))
    with pytest.raises(CheckpointError, match=r"'manifest\.json' has \d+ bytes, more than"):
        verify_checkpoint(saved)


def test_crafted_state_is_refused_before_anything_changes(saved: Path) -> None:
    state = torch.load(saved / "state.pt", weights_only=True)
    state["rng"]["cpu"] = torch.zeros(3, dtype=torch.uint8)
    torch.save(state, saved / "state.pt")
    rewrite_manifest(saved)
    model = build()
    model.fit(X, Y, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=r"'state\.pt' holds no valid CPU random"):
        model._trainer.load(load_checkpoint(saved))
    assert_unchanged(model, before)


def test_optimizer_state_of_another_shape_is_refused(saved: Path) -> None:
    state = torch.load(saved / "state.pt", weights_only=True)
    state["optimizer"]["state"][0]["exp_avg"] = torch.zeros(3, 3)
    torch.save(state, saved / "state.pt")
    rewrite_manifest(saved)
    model = build()
    model.fit(X, Y, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=r"optimizer state 'exp_avg' of shape \(3, 3\)"):
        model._trainer.load(load_checkpoint(saved))
    assert_unchanged(model, before)


# -- another architecture, weights-only directories ---------------------------
def test_load_of_another_architecture_is_refused_and_leaves_the_module(saved: Path) -> None:
    other = module(width=5)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(
        CheckpointError, match=r"'weights\.safetensors' holds '0\.weight' with shape"
    ):
        ep.Model.load(saved, module=other)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in before.items())


@pytest.mark.parametrize("width", [5, 16])
def test_load_weights_of_another_architecture_changes_nothing(saved: Path, width: int) -> None:
    model = build(width)
    model.fit(X, Y, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match="another architecture"):
        model.load_weights(saved)
    assert_unchanged(model, before)


def test_load_weights_with_missing_and_extra_tensors_names_them(tmp_path: Path) -> None:
    small = ep.Model(nn.Sequential(nn.Linear(4, 1)), device="cpu")
    path = small.save_weights(tmp_path / "w")
    model = build()
    with pytest.raises(
        CheckpointError, match=r"lacks 2 of the module's tensors \(2\.weight, 2\.bias\)"
    ):
        model.load_weights(path)


def test_model_load_of_a_save_weights_directory_says_to_use_load_weights(tmp_path: Path) -> None:
    model = build()
    path = model.save_weights(tmp_path / "w")
    with pytest.raises(CheckpointError, match=r"weights only.*load_weights"):
        ep.Model.load(path, module=module())
    other = build()
    other.load_weights(path)  # the documented way works
    for key, value in model.module.state_dict().items():
        assert torch.equal(other.module.state_dict()[key], value)


def test_save_weights_directory_inside_a_checkpoint_dir_is_ignored(ckdir: Path) -> None:
    model = build()
    model.fit(X, Y, epochs=2, verbose=0)
    model.save_weights(ckdir / "epoch-000009")
    resumed = build()
    resumed.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=ckdir)  # no KeyError: 'step'
    assert resumed.run.epoch == 2
    assert (ckdir / "epoch-000009").exists()


def test_a_checkpoint_dir_holding_only_saved_weights_starts_the_run(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build().save_weights(root / "weights")
    model = build()
    model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root)  # no KeyError: 'step'
    reference = build()
    reference.fit(X, Y, epochs=2, verbose=0)
    for key, value in reference.module.state_dict().items():
        assert torch.equal(model.module.state_dict()[key], value)
    assert (root / "weights").exists()


def test_fit_with_a_checkpoint_dir_of_another_architecture_is_refused(ckdir: Path) -> None:
    model = build(width=5)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=r"architecture: .*'0\.weight' has shape"):
        model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=ckdir)
    assert model.run.epoch == before["epoch"] and model.run.step == 0


def test_read_checkpoint_of_a_weights_only_file_in_a_checkpoint_dir_for_load(ckdir: Path) -> None:
    loaded = ep.Model.load(ckdir, module=module())
    assert loaded.run.epoch == 2


def test_keras_file_of_another_architecture_changes_nothing(tmp_path: Path) -> None:
    from epochal import keras
    from epochal.keras import layers

    saved = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3), layers.Dense(1)])
    saved.save(tmp_path / "m.keras")
    other = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3), layers.Dense(2)])
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"do not fit.*another architecture"):
        other.load_weights(tmp_path / "m.keras")
    # torch would have copied the first layer (it fits) before raising on the second.
    assert all(torch.equal(other.state_dict()[k], v) for k, v in before.items())
