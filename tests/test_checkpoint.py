"""Tests for epochal.checkpoint: round trips, atomicity, corruption, security, rotation."""

from __future__ import annotations

import collections
import errno
import hashlib
import json
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochal import checkpoint
from epochal.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointDir,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError

# -- helpers ------------------------------------------------------------------


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (NaN payloads and -0.0 included), same dtype and shape."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def same_tree(expected: Any, got: Any) -> bool:
    """Exact structural equality; any expected Mapping must load back as a plain dict."""
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and same_tensor(expected, got)
    if isinstance(expected, Mapping):
        return (
            type(got) is dict
            and [(type(k), k) for k in expected] == [(type(k), k) for k in got]
            and all(same_tree(expected[k], got[k]) for k in expected)
        )
    if isinstance(expected, (list, tuple)):
        return (
            type(got) is type(expected)
            and len(got) == len(expected)
            and all(same_tree(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, float):
        if math.isnan(expected):
            return isinstance(got, float) and math.isnan(got)
        return (
            type(got) is float
            and got == expected
            and math.copysign(1, got) == math.copysign(1, expected)
        )
    return type(got) is type(expected) and got == expected


def write(path: Path, **overrides: Any) -> Path:
    parts: dict[str, Any] = {
        "weights": {"w": torch.arange(6.0).reshape(2, 3)},
        "state": {"step": 1},
        "meta": {"epoch": 1},
    }
    parts.update(overrides)
    return save_checkpoint(path, **parts)


def rewrite_manifest(path: Path) -> None:
    """Recompute the manifest so checksums match the (tampered) files."""
    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (path / name).read_bytes()
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))


def hidden_entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- round trips --------------------------------------------------------------


def test_weights_round_trip_keeps_dtypes_order_and_values(tmp_path: Path) -> None:
    base = torch.randn(4, 5)
    weights = {
        "z.float32": base,
        "a.float64": torch.randn(3, dtype=torch.float64),
        "m.float16": torch.randn(2, 2).half(),
        "b.bfloat16": torch.tensor([1.5, -0.0, float("inf"), float("nan")], dtype=torch.bfloat16),
        "c.int64": torch.tensor([2**62, -1, 0], dtype=torch.int64),
        "d.int8": torch.tensor([-128, 127], dtype=torch.int8),
        "e.bool": torch.tensor([True, False]),
        "f.scalar": torch.tensor(3.25),
        "g.empty": torch.zeros(0, 3),
        "h.transposed": base.t(),  # shares storage with z, non-contiguous
        "i.row": base[1],  # a view into z's storage
        "j.tied": base,  # the same tensor under two names
        "k.param": torch.nn.Parameter(torch.ones(2)),
    }
    path = save_checkpoint(tmp_path / "ckpt", weights=weights, state={}, meta={})
    loaded = load_checkpoint(path)

    assert isinstance(loaded, Checkpoint)
    assert loaded.path == tmp_path / "ckpt"
    assert list(loaded.weights) == list(weights)
    for name, tensor in weights.items():
        got = loaded.weights[name]
        assert type(got) is torch.Tensor and not got.requires_grad, name
        assert same_tensor(tensor.detach().contiguous(), got), name
    # Tied weights come back as independent equal tensors.
    assert loaded.weights["z.float32"].data_ptr() != loaded.weights["j.tied"].data_ptr()


def test_adam_and_scheduler_state_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)  # its state holds inf
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    plateau.step(1.0)
    state = {"optimizer": opt.state_dict(), "scheduler": plateau.state_dict()}
    save_checkpoint(tmp_path / "ckpt", weights=model.state_dict(), state=state, meta={})

    loaded = load_checkpoint(tmp_path / "ckpt").state
    assert same_tree(state, loaded)
    assert sorted(loaded["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    assert isinstance(loaded["optimizer"]["param_groups"][0]["betas"], tuple)

    fresh_model = torch.nn.Linear(3, 2)
    fresh_model.load_state_dict(load_checkpoint(tmp_path / "ckpt").weights)
    fresh = torch.optim.Adam(fresh_model.parameters(), lr=0.5)
    fresh.load_state_dict(loaded["optimizer"])
    original = opt.state_dict()
    for index, param_state in original["state"].items():
        for key, value in param_state.items():
            assert torch.equal(fresh.state_dict()["state"][index][key], value), (index, key)
    assert fresh.param_groups[0]["lr"] == 0.01
    # One more identical step gives identical parameters.
    x = torch.randn(5, 3)
    for m, o in ((model, opt), (fresh_model, fresh)):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    for p, q in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_rng_states_round_trip(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(123)
    torch.rand(3, generator=gen)
    state = {"torch": torch.get_rng_state(), "generator": gen.get_state()}
    expected_global = torch.rand(4)
    expected_gen = torch.rand(4, generator=gen)
    save_checkpoint(tmp_path / "ckpt", weights={}, state=state, meta={})

    loaded = load_checkpoint(tmp_path / "ckpt").state
    assert loaded["torch"].dtype == torch.uint8
    torch.set_rng_state(loaded["torch"])
    restored = torch.Generator()
    restored.set_state(loaded["generator"])
    assert torch.equal(torch.rand(4), expected_global)
    assert torch.equal(torch.rand(4, generator=restored), expected_gen)


def test_callback_like_state_with_nonfinite_floats_round_trips(tmp_path: Path) -> None:
    best = collections.OrderedDict(weight=torch.randn(2, 2), bias=torch.tensor([float("nan"), 1]))
    state = {
        "callbacks": [
            {"best": float("inf"), "wait": 0, "baseline": None, "best_weights": best},
            {"best": float("-inf"), "mode": "max", "history": [float("nan"), -0.0, 1e308]},
        ],
        "by_epoch": {0: 1.5, 7: (True, None, "text"), 2**70: "big int key"},
        1.5: "float key",
        None: [],
    }
    save_checkpoint(tmp_path / "ckpt", weights={}, state=state, meta={})
    assert same_tree(state, load_checkpoint(tmp_path / "ckpt").state)


def test_state_tensors_are_stored_compact_detached_and_on_cpu(tmp_path: Path) -> None:
    big = torch.arange(1_000_000, dtype=torch.float32)
    param = torch.nn.Parameter(torch.ones(3))
    state = {"row": big[10:14], "strided": big[::250_000], "param": param}
    save_checkpoint(tmp_path / "ckpt", weights={}, state=state, meta={})

    assert (tmp_path / "ckpt" / "state.pt").stat().st_size < 10_000  # not the 4 MB buffer
    loaded = load_checkpoint(tmp_path / "ckpt").state
    assert torch.equal(loaded["row"], torch.tensor([10.0, 11.0, 12.0, 13.0]))
    assert torch.equal(loaded["strided"], torch.tensor([0.0, 250_000.0, 500_000.0, 750_000.0]))
    assert type(loaded["param"]) is torch.Tensor and not loaded["param"].requires_grad


def test_meta_round_trips_nonfinite_floats_as_strict_json(tmp_path: Path) -> None:
    meta = {
        "epoch": 3,
        "step": 1200,
        "history": {"loss": [0.5, float("nan"), float("inf")], "val_loss": [float("-inf")]},
        "notes": "NaN is a string here",
        "flags": [True, None, {"nested": -0.5}],
    }
    save_checkpoint(tmp_path / "ckpt", weights={}, state={}, meta=meta)

    def reject(constant: str) -> None:
        raise AssertionError(f"meta.json is not strict JSON: {constant}")

    raw = json.loads((tmp_path / "ckpt" / "meta.json").read_text(), parse_constant=reject)
    assert raw["format_version"] == FORMAT_VERSION
    assert raw["history"]["loss"][1] == {"$float": "nan"}
    loaded = load_checkpoint(tmp_path / "ckpt").meta
    assert same_tree(meta, loaded)
    assert "format_version" not in loaded


def test_meta_tuples_load_as_lists(tmp_path: Path) -> None:
    write(tmp_path / "ckpt", meta={"shape": (2, 3)})
    assert load_checkpoint(tmp_path / "ckpt").meta == {"shape": [2, 3]}


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"meta": {"format_version": 2}}, ArgumentError, "'format_version': it is reserved"),
        ({"meta": {"x": {"$float": "nan"}}}, ArgumentError, r"meta\['x'\].*'\$float'"),
        ({"meta": {"h": {1: 2.0}}}, ArgumentTypeError, r"keys of `meta\['h'\]` to be str"),
        ({"meta": {"w": torch.ones(1)}}, ArgumentTypeError, "Put tensors in `state`"),
        ({"state": {"cb": [object()]}}, ArgumentTypeError, r"`state\['cb'\]\[0\]`.*object"),
        ({"state": {"raw": b"\x00"}}, ArgumentTypeError, "bytes with `torch.frombuffer`"),
        ({"state": {("a", 1): 1}}, ArgumentTypeError, r"keys of `state` to be str, int"),
        ({"weights": {"w": [1.0]}}, ArgumentTypeError, r"`weights\['w'\]` to be a dense tensor"),
        ({"weights": {3: torch.ones(1)}}, ArgumentTypeError, "`weights` keys to be str"),
    ],
)
def test_unsupported_values_are_rejected_before_writing(
    tmp_path: Path, overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        write(tmp_path / "run" / "ckpt", **overrides)
    assert not (tmp_path / "run").exists()


def test_cyclic_state_is_rejected(tmp_path: Path) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ArgumentError, match="reference cycle"):
        write(tmp_path / "ckpt", state={"loop": loop})


# -- atomicity ----------------------------------------------------------------


def _torch_save_fills_disk(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    f.write(b"PK\x03\x04 half a zip file")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _save_file_fills_disk(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


_real_replace = os.replace


def _final_rename_denied(src: Any, dst: Any) -> None:
    if ".tmp-" in os.fspath(src):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(dst))
    _real_replace(src, dst)


@pytest.mark.parametrize(
    ("target", "replacement", "cause", "match"),
    [
        (torch, ("save", _torch_save_fills_disk), OSError, "the disk is full"),
        (safetensors.torch, ("save_file", _save_file_fills_disk), OSError, "the disk is full"),
        (os, ("replace", _final_rename_denied), PermissionError, "permission denied"),
    ],
)
def test_failed_save_keeps_previous_checkpoint_and_leaves_no_temp_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    replacement: tuple[str, Callable[..., None]],
    cause: type[Exception],
    match: str,
) -> None:
    path = write(tmp_path / "ckpt", meta={"epoch": 1})
    monkeypatch.setattr(target, *replacement)

    with pytest.raises(
        CheckpointError, match=f"Could not write checkpoint '.*ckpt'.*{match}"
    ) as info:
        write(tmp_path / "ckpt", meta={"epoch": 2}, state={"new": torch.ones(3)})
    assert isinstance(info.value.__cause__, cause)
    monkeypatch.undo()

    assert hidden_entries(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert load_checkpoint(path).meta == {"epoch": 1}


def test_failed_first_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "save", _torch_save_fills_disk)
    with pytest.raises(CheckpointError, match="the disk is full"):
        write(tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_existing_checkpoint(tmp_path: Path) -> None:
    write(tmp_path / "ckpt", meta={"epoch": 1})
    write(tmp_path / "ckpt", meta={"epoch": 2}, weights={"v": torch.ones(1)})
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.meta == {"epoch": 2}
    assert list(loaded.weights) == ["v"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_save_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x\n")
    with pytest.raises(CheckpointError, match=r"Refusing to replace '.*data'.*train\.csv"):
        write(tmp_path / "data")
    assert (tmp_path / "data" / "train.csv").read_text() == "x\n"
    assert hidden_entries(tmp_path) == []


# -- corruption ---------------------------------------------------------------


def _truncate_weights(path: Path) -> None:
    file = path / "weights.safetensors"
    file.write_bytes(file.read_bytes()[:-7])


def _flip_bit_in_state(path: Path) -> None:
    file = path / "state.pt"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    file.write_bytes(bytes(data))


def _delete_manifest(path: Path) -> None:
    (path / "manifest.json").unlink()


def _edit_meta(path: Path) -> None:
    file = path / "meta.json"
    file.write_text(file.read_text().replace('"epoch": 2', '"epoch": 9'))


def _garble_manifest(path: Path) -> None:
    (path / "manifest.json").write_text('{"format_version": 1, "files": ')


def _delete_state(path: Path) -> None:
    (path / "state.pt").unlink()


CORRUPTIONS = [
    pytest.param(_truncate_weights, r"'weights\.safetensors' has \d+ bytes", id="truncate"),
    pytest.param(_flip_bit_in_state, r"sha256 of 'state\.pt' does not match", id="bitflip"),
    pytest.param(_delete_manifest, r"'manifest\.json' is missing", id="no-manifest"),
    pytest.param(_edit_meta, r"sha256 of 'meta\.json' does not match", id="edit-meta"),
    pytest.param(_garble_manifest, r"'manifest\.json' cannot be read", id="bad-manifest"),
    pytest.param(_delete_state, r"cannot read 'state\.pt'", id="no-state"),
]


@pytest.mark.parametrize(("damage", "match"), CORRUPTIONS)
def test_corruption_is_detected_before_deserializing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[Path], None], match: str
) -> None:
    path = write(tmp_path / "ckpt", meta={"epoch": 2})
    verify_checkpoint(path)
    damage(path)

    def must_not_deserialize(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("deserialized a damaged checkpoint")

    monkeypatch.setattr(torch, "load", must_not_deserialize)
    monkeypatch.setattr(checkpoint, "_load_weights", must_not_deserialize)
    with pytest.raises(CheckpointError, match=match):
        verify_checkpoint(path)
    with pytest.raises(CheckpointError, match=f"Checkpoint '.*ckpt'.*{match}"):
        load_checkpoint(path)


@pytest.mark.parametrize(("damage", "match"), CORRUPTIONS)
def test_latest_falls_back_to_previous_good_checkpoint(
    tmp_path: Path, damage: Callable[[Path], None], match: str
) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    ckpts.save("epoch-000001", weights={}, state={"step": 1}, meta={"epoch": 1})
    bad = ckpts.save("epoch-000002", weights={}, state={"step": 2}, meta={"epoch": 2})
    damage(bad)

    with pytest.warns(
        RuntimeWarning,
        match=r"damaged checkpoint '.*epoch-000002'.*using '.*epoch-000001' instead",
    ):
        found = ckpts.latest()
    assert found is not None
    assert found.meta == {"epoch": 1}
    assert found.state == {"step": 1}


def test_latest_warns_and_returns_none_when_all_are_damaged(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path)
    _flip_bit_in_state(ckpts.save("epoch-000001", weights={}, state={"a": 1}, meta={}))
    with pytest.warns(RuntimeWarning, match="epoch-000001.*no intact checkpoint is left"):
        assert ckpts.latest() is None


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "ckpt")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"format_version \d+, newer.*Upgrade epochal"):
        load_checkpoint(path)


def test_latest_skips_a_newer_format_checkpoint_with_a_warning(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path)
    _save(ckpts, "epoch-000001", 1)
    newer = _save(ckpts, "epoch-000002", 2)
    manifest = json.loads((newer / "manifest.json").read_text())
    newest = {**manifest, "format_version": FORMAT_VERSION + 1}
    (newer / "manifest.json").write_text(json.dumps(newest))
    with pytest.warns(RuntimeWarning, match=r"epoch-000002.*format_version \d+, newer.*000001"):
        found = ckpts.latest()
    assert found is not None and found.meta == {"epoch": 1}


def test_missing_checkpoint_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"'.*nowhere' does not exist"):
        load_checkpoint(tmp_path / "nowhere")


# -- security -----------------------------------------------------------------


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_planted_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    # The payload is live: a plain unpickle does create its marker.
    probe = tmp_path / "probe.pt"
    torch.save({"x": _Payload(tmp_path / "probe-marker")}, probe)
    torch.load(probe, weights_only=False).get("x").close()
    assert (tmp_path / "probe-marker").exists()

    path = write(tmp_path / "ckpt")
    marker = tmp_path / "pwned"
    torch.save({"optimizer": _Payload(marker)}, path / "state.pt")
    rewrite_manifest(path)
    verify_checkpoint(path)  # the checksums pass: only weights_only stops it

    with pytest.raises(
        CheckpointError, match=r"'state\.pt' cannot be deserialized.*Unsupported global"
    ) as info:
        load_checkpoint(path)
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)
    assert not marker.exists()


# -- CheckpointDir --------------------------------------------------------------


def _save(ckpts: CheckpointDir, name: str, epoch: int = 0) -> Path:
    return ckpts.save(
        name, weights={"w": torch.full((2,), float(epoch))}, state={}, meta={"epoch": epoch}
    )


def test_keep_last_prunes_oldest_and_keeps_newest(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=2)
    for epoch in range(1, 6):
        _save(ckpts, f"epoch-{epoch:06d}", epoch)
    assert [p.name for p in ckpts.list()] == ["epoch-000004", "epoch-000005"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "epoch-000004",
        "epoch-000005",
    ]
    latest = ckpts.latest()
    assert latest is not None and latest.meta == {"epoch": 5}


def test_keep_last_none_keeps_all(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    for epoch in range(4):
        _save(ckpts, f"epoch-{epoch:06d}", epoch)
    assert len(ckpts.list()) == 4


def test_resaving_a_name_makes_it_newest_and_is_never_pruned(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=1)
    _save(ckpts, "epoch-000001", 1)
    _save(ckpts, "epoch-000002", 2)
    _save(ckpts, "epoch-000001", 3)
    assert [p.name for p in ckpts.list()] == ["epoch-000001"]
    latest = ckpts.latest()
    assert latest is not None and latest.meta == {"epoch": 3}


def test_order_follows_sequence_not_name_or_mtime(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    first = _save(ckpts, "step-9", 1)
    _save(ckpts, "epoch-000010-step-000000001", 2)
    _save(ckpts, "epoch-000002", 3)
    future = 4_000_000_000
    os.utime(first, (future, future))
    assert [p.name for p in ckpts.list()] == [
        "step-9",
        "epoch-000010-step-000000001",
        "epoch-000002",
    ]
    sequences = [json.loads((p / "manifest.json").read_text())["sequence"] for p in ckpts.list()]
    assert sequences == [1, 2, 3]
    latest = ckpts.latest()
    assert latest is not None and latest.meta == {"epoch": 3}


def test_leftover_temp_dirs_are_ignored_then_cleaned(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    _save(ckpts, "epoch-000001", 1)
    # A save killed mid-write: a complete-looking temp dir of a newer epoch.
    leftover = tmp_path / ".epoch-000002.tmp-0123456789abcdef"
    (leftover / "weights.safetensors").parent.mkdir()
    (leftover / "weights.safetensors").write_bytes(b"partial")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("mine")
    (tmp_path / "log.txt").write_text("mine")

    assert [p.name for p in ckpts.list()] == ["epoch-000001"]
    latest = ckpts.latest()  # no warning: leftovers are not damaged checkpoints
    assert latest is not None and latest.meta == {"epoch": 1}

    _save(ckpts, "epoch-000002", 2)
    assert not leftover.exists()
    assert (tmp_path / "notes" / "readme.txt").exists() and (tmp_path / "log.txt").exists()
    assert [p.name for p in ckpts.list()] == ["epoch-000001", "epoch-000002"]


def test_checkpoint_moved_aside_by_interrupted_swap_is_found_and_restored(tmp_path: Path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=None)
    _save(ckpts, "epoch-000001", 1)
    path = _save(ckpts, "last", 2)
    # A crash between the two renames of a replace leaves the old one aside.
    aside = tmp_path / ".last.old-00112233445566aa"
    path.rename(aside)
    (tmp_path / ".last.tmp-00112233445566bb").mkdir()

    latest = ckpts.latest()
    assert latest is not None and latest.meta == {"epoch": 2}
    _save(ckpts, "epoch-000003", 3)
    assert [p.name for p in ckpts.list()] == ["epoch-000001", "last", "epoch-000003"]
    assert hidden_entries(tmp_path) == []


def test_latest_is_none_for_empty_or_missing_root(tmp_path: Path) -> None:
    assert CheckpointDir(tmp_path / "missing").latest() is None
    assert CheckpointDir(tmp_path / "missing").list() == []
    assert CheckpointDir(tmp_path).latest() is None


@pytest.mark.parametrize(
    ("keep_last", "error"), [(0, ArgumentError), (-1, ArgumentError), (True, ArgumentTypeError)]
)
def test_keep_last_is_validated(tmp_path: Path, keep_last: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"keep_last={keep_last!r}"):
        CheckpointDir(tmp_path, keep_last=keep_last)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "../escape"])
def test_save_rejects_names_that_are_not_plain(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArgumentError, match="plain directory name"):
        _save(CheckpointDir(tmp_path / "run"), name)
    assert not (tmp_path / "run").exists()


# -- property tests -------------------------------------------------------------

_tensors = st.one_of(
    st.lists(st.floats(width=32), max_size=4).map(lambda v: torch.tensor(v, dtype=torch.float32)),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4).map(
        lambda v: torch.tensor(v, dtype=torch.int64)
    ),
    st.floats(allow_nan=False).map(lambda v: torch.tensor(v, dtype=torch.bfloat16)),
    st.lists(st.booleans(), max_size=3).map(lambda v: torch.tensor(v, dtype=torch.bool)),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
)
_keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
_state_trees = st.dictionaries(
    _keys,
    st.recursive(
        st.one_of(_scalars, _tensors),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(_keys, inner, max_size=3),
        ),
        max_leaves=10,
    ),
    max_size=4,
)
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_metas = st.dictionaries(
    st.text(max_size=6).filter(lambda k: k not in ("format_version", "$float")),
    _json_values,
    max_size=4,
).filter(lambda m: "$float" not in json.dumps(m))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=_state_trees, meta=_metas)
def test_random_trees_round_trip_exactly(state: dict[Any, Any], meta: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Path(tmp) / "ckpt", weights={}, state=state, meta=meta)
        loaded = load_checkpoint(path)
    assert same_tree(state, loaded.state)
    assert same_tree(meta, loaded.meta)


# -- temporary directories of dead writers (issue 9, break 10) -----------------
def _dead_write(parent: Path, name: str) -> Path:
    """What a save killed mid-write (SIGKILL: no cleanup ran) leaves behind."""
    leftover = parent / f".{name}.tmp-{os.urandom(8).hex()}"
    leftover.mkdir(parents=True)
    (leftover / "weights.safetensors").write_bytes(b"partial")
    return leftover


@pytest.mark.skipif(os.name != "posix", reason="flock")
@pytest.mark.parametrize("other_name", [False, True])
def test_a_dead_writers_temp_dir_is_removed_by_the_next_save(
    tmp_path: Path, other_name: bool
) -> None:
    leftover = _dead_write(tmp_path, "best")
    write(tmp_path / ("epoch02" if other_name else "best"))
    assert not leftover.exists()
    assert hidden_entries(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_a_dead_writers_temp_dir_is_removed_by_a_load(tmp_path: Path) -> None:
    path = write(tmp_path / "best")
    leftover = _dead_write(tmp_path, "best")
    load_checkpoint(path)
    assert not leftover.exists()


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_a_live_writers_temp_dir_is_left_alone(tmp_path: Path) -> None:
    import fcntl

    live = _dead_write(tmp_path, "other")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process, still writing
    try:
        write(tmp_path / "best")
        assert live.exists()
    finally:
        os.close(fd)
    write(tmp_path / "best")
    assert not live.exists()


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_model_checkpoint_folder_is_cleaned_of_a_killed_save(tmp_path: Path) -> None:
    import numpy as np
    from torch import nn

    import epochal as ep

    leftover = _dead_write(tmp_path / "ckpts", "epoch01")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = ep.Model(nn.Sequential(nn.Linear(3, 1), nn.Sigmoid()), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    saver = ep.callbacks.ModelCheckpoint(str(tmp_path / "ckpts" / "epoch{epoch:02d}"))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[saver])
    assert not leftover.exists()
    assert sorted(p.name for p in (tmp_path / "ckpts").iterdir()) == ["epoch01", "epoch02"]
