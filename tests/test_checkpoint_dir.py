"""A checkpoint_dir belongs to one run: pruning, ownership, the lock, the history log.

Issue 9 breaks 1 and 8, issue 13 point 7 (the checkpoint half).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from epochal.callbacks.history import History
from epochal.checkpoint import CheckpointDir, load_checkpoint, save_checkpoint
from epochal.errors import CheckpointError

X = np.random.default_rng(1).normal(size=(40, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")


def module(width: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 1), nn.Sigmoid())


def build(width: int = 8, **compile_kwargs: object) -> ep.Model:
    model = ep.Model(module(width), device="cpu")
    settings: dict[str, object] = {"optimizer": "adam", "loss": "bce", "seed": 3}
    settings.update(compile_kwargs)
    model.compile(**settings)  # type: ignore[arg-type]
    return model


def names(root: Path) -> list[str]:
    # "calls" holds fit's end-of-call weights (for replays), not checkpoints.
    found = (p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return sorted(name for name in found if name != "calls")


# -- pruning (issue 9, break 1) -----------------------------------------------
def test_pruning_spares_a_model_checkpoint_inside_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "run"
    best = ep.callbacks.ModelCheckpoint(str(root / "best"), monitor="loss", save_best_only=True)
    model = build()
    model.fit(X, Y, epochs=5, verbose=0, callbacks=[best], checkpoint_dir=root, keep_checkpoints=1)
    assert names(root) == ["best", "epoch-000005"]
    assert ep.Model.load(root / "best", module=module()).run.epoch >= 1


def test_pruning_spares_saves_and_weights_in_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "run"
    model = build()
    model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root, keep_checkpoints=1)
    model.save(root / "final")
    model.save_weights(root / "weights")
    model.save(root / "epoch-000000")  # even one named as fit names its checkpoints
    model.fit(X, Y, epochs=3, verbose=0, checkpoint_dir=root, keep_checkpoints=1)
    assert names(root) == ["epoch-000000", "epoch-000004", "final", "weights"]


def test_pruning_spares_another_runs_checkpoints(tmp_path: Path) -> None:
    root = tmp_path / "run"
    ckpts = CheckpointDir(root, keep_last=1)
    ckpts.save("epoch-000001", weights={}, state={}, meta={})
    foreign = root / "epoch-000002"
    save_checkpoint(foreign, weights={}, state={}, meta={})
    ckpts.save("epoch-000003", weights={}, state={}, meta={})
    ckpts.save("epoch-000004", weights={}, state={}, meta={})
    assert names(root) == ["epoch-000002", "epoch-000004"]
    assert [p.name for p in ckpts.list()] == ["epoch-000004"]


def test_a_model_save_inside_the_directory_is_not_resumed_from(tmp_path: Path) -> None:
    root = tmp_path / "run"
    other = build()
    other.fit(X, Y, epochs=3, verbose=0)
    other.save(root / "final")  # a run of 3 epochs, not fit's checkpoint
    model = build()
    model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    assert model.run.epoch == 1


# -- one run per directory (issue 9, break 8) ---------------------------------
@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"optimizer": "sgd"}, r"optimizer: 'adam' in the directory, 'sgd' now"),
        (
            {"loss": "mse"},
            r"loss: 'binary_crossentropy' in the directory, 'mean_squared_error' now",
        ),
        ({"learning_rate": 0.5}, r"learning_rate: None in the directory, 0.5 now"),
        ({"metrics": ["accuracy"]}, r"metrics: \[\] in the directory, \['accuracy'\] now"),
        ({"seed": 4}, r"seed: 3 in the directory, 4 now"),
    ],
)
def test_a_directory_of_a_run_with_other_settings_is_refused(
    tmp_path: Path, changed: dict[str, object], message: str
) -> None:
    root = tmp_path / "run"
    build().fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root)
    before = {p: (p / "manifest.json").read_bytes() for p in root.glob("epoch-*")}
    model = build(**changed)
    weights = {k: v.clone() for k, v in model.module.state_dict().items()}
    with pytest.raises(CheckpointError, match=f"holds a run with other settings.*{message}"):
        model.fit(X, Y, epochs=2, verbose=0, checkpoint_dir=root)
    # Nothing changed: neither the model and its run, nor the directory.
    assert model.run.epoch == 0 and model.run.step == 0 and not model.history.epoch
    assert all(torch.equal(model.module.state_dict()[k], v) for k, v in weights.items())
    assert {p: (p / "manifest.json").read_bytes() for p in root.glob("epoch-*")} == before


def test_a_directory_of_another_architecture_names_the_parameter(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build().fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    with pytest.raises(CheckpointError, match=r"'0\.weight' has shape \[8, 4\] in the directory"):
        build(width=6).fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    extra = ep.Model(nn.Sequential(module(), nn.Linear(1, 1)), device="cpu")
    extra.compile(optimizer="adam", loss="bce", seed=3)
    with pytest.raises(CheckpointError, match=r"architecture: parameters .* only in"):
        extra.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)


def test_the_same_settings_resume_and_the_directory_records_them(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build().fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    record = json.loads((root / "epochal-run.json").read_text())
    assert record["settings"]["optimizer"] == "adam"
    assert record["settings"]["architecture"]["0.weight"] == [8, 4]
    again = build()  # the same script, run again, then one more call
    again.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    again.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    assert again.run.epoch == 2


def test_a_malformed_run_record_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build().fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    (root / "epochal-run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=r"epochal-run\.json' nests"):
        build().fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)


# Another process holding the directory, as a fit there does (no torch import: fast).
_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    os.makedirs(sys.argv[1], exist_ok=True)
    fd = os.open(os.path.join(sys.argv[1], ".epochal.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, str(os.getpid()).encode())
    print("locked", flush=True)
    time.sleep(120)
    """
)


def _free_for_another_process(root: Path) -> bool:
    import fcntl

    # flock locks conflict between open file descriptions, even in one process.
    fd = os.open(root / ".epochal.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.skipif(os.name != "posix", reason="flock")
@pytest.mark.timeout(120)
def test_a_second_process_gets_in_use_at_once_and_the_lock_dies_with_it(tmp_path: Path) -> None:
    root = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        model = build()
        with pytest.raises(
            CheckpointError, match=rf"is in use by another process \(pid {holder.pid}\)"
        ):
            model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
        assert model.run.epoch == 0
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)  # the lock died with the holder
    assert model.run.epoch == 1


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_the_lock_is_released_when_fit_ends_or_raises(tmp_path: Path) -> None:
    root = tmp_path / "run"

    class Boom(ep.Callback):
        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            raise RuntimeError("boom")

    model = build()
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[Boom()], checkpoint_dir=root)
    assert _free_for_another_process(root)
    model.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    assert _free_for_another_process(root)


# -- the history log (issue 13, point 7) --------------------------------------
def _history(epochs: int, offset: float = 0.0) -> History:
    history = History()
    for epoch in range(epochs):
        logs = {"loss": 1.0 / (epoch + 1) + offset}
        if epoch % 2:
            logs["val_loss"] = float("nan") if epoch == 3 else 2.0 + epoch
        history.record(epoch, logs)
    return history


def _same(a: History, b: History) -> bool:
    def norm(h: History) -> object:
        return h.epoch, h.epochs_by_key, {k: [repr(v) for v in vs] for k, vs in h.history.items()}

    return norm(a) == norm(b)


def test_each_save_appends_to_the_previous_log_and_reads_back_whole(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=2)
    history = History()
    sizes = []
    for epoch in range(12):
        history.record(
            epoch, {"loss": 1.0 / (epoch + 1), **({"val_loss": math.inf} if epoch == 5 else {})}
        )
        history.merge_last(epoch, {"extra": float(epoch)})
        path = ckpts.save(f"epoch-{epoch:06d}", weights={}, state={}, meta={}, history=history)
        sizes.append(os.stat(path / "history.jsonl").st_size)
        loaded = load_checkpoint(path).history
        assert loaded is not None and _same(loaded, history)
    # The log is one file growing by a line per save (hard links), and the
    # pruned checkpoints' prefixes stay valid for those still kept.
    kept = ckpts.list()
    assert len(kept) == 2
    assert os.stat(kept[0] / "history.jsonl").st_ino == os.stat(kept[1] / "history.jsonl").st_ino
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    assert max(growth) < 3 * min(growth)  # bounded per save, not the whole history again
    older = load_checkpoint(kept[0]).history
    assert older is not None and _same(older, history.slice(0, 11))


def test_a_resumed_run_rewrites_the_log_and_older_checkpoints_stay_valid(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    history = _history(3)
    ckpts.save("a", weights={}, state={}, meta={}, history=history)
    replaced = _history(2, offset=0.5)  # a restored run: a new History object
    ckpts.save("b", weights={}, state={}, meta={}, history=replaced)
    replaced.record(2, {"loss": 9.0})
    ckpts.save("c", weights={}, state={}, meta={}, history=replaced)
    assert _same(load_checkpoint(tmp_path / "a").history, history)  # type: ignore[arg-type]
    assert _same(load_checkpoint(tmp_path / "c").history, replaced)  # type: ignore[arg-type]


def test_an_altered_log_prefix_is_detected(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    history = _history(2)
    first = ckpts.save("a", weights={}, state={}, meta={}, history=history)
    history.record(2, {"loss": 0.1})
    ckpts.save("b", weights={}, state={}, meta={}, history=history)
    log = first / "history.jsonl"  # shared with b: altering it damages both
    data = bytearray(log.read_bytes())
    data[5] ^= 1
    log.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"sha256 of 'history\.jsonl'"):
        load_checkpoint(first)
    with pytest.raises(CheckpointError, match=r"sha256 of 'history\.jsonl'"):
        load_checkpoint(tmp_path / "b")


def test_fit_history_survives_resume_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    root = tmp_path / "run"
    looped = build()
    for _ in range(4):
        looped.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=root)
    resumed = ep.Model.load(root, module=module())
    whole = build()
    whole.fit(X, Y, epochs=4, verbose=0)
    assert _same(resumed.history, whole.history)
    assert _same(looped.history, whole.history)


def test_format_1_checkpoints_still_load(tmp_path: Path) -> None:
    model = build()
    model.fit(X, Y, epochs=2, verbose=0)
    path = model.save(tmp_path / "m")
    # Rewrite it as epochal's format 1: the history inside meta.json, no log.
    meta = json.loads((path / "meta.json").read_text())
    meta["format_version"] = 1
    meta["history"] = model.history.to_dict()
    meta["calls"] = [record.to_dict() for record in model.run.calls]
    del meta["calls_count"]
    (path / "meta.json").write_text(json.dumps(meta))
    (path / "history.jsonl").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["files"]["history.jsonl"]
    data = (path / "meta.json").read_bytes()
    import hashlib

    manifest["files"]["meta.json"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = ep.Model.load(path, module=module())
    assert _same(loaded.history, model.history)
