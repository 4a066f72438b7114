"""plot_history draws headless, marks the run's events and saves PNG/SVG."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from epochal.errors import ArgumentError
from epochal.plot import MISSING_MATPLOTLIB, plot_history

E = np.arange(30)
HISTORY = {
    "loss": [float(v) for v in 0.2 + np.exp(-E / 6)],
    "accuracy": [float(v) for v in 0.95 - 0.5 * np.exp(-E / 6)],
    "val_loss": [float(v) for v in 0.35 + 0.002 * (E - 12) ** 2],  # best epoch 12 (0-based)
    "val_accuracy": [float(v) for v in 0.85 - 0.001 * (E - 12) ** 2],
    "learning_rate": [1e-3] * 20 + [1e-4] * 10,
}
EVENTS = {"stopped_epoch": 27, "best_epoch": 12, "restored_epoch": 12}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def lines_with_gid(fig: object, gid: str) -> list[object]:
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == gid]  # type: ignore[attr-defined]


def test_png_is_written_with_sane_size(tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    fig = plot_history(HISTORY, path=path, events=EVENTS, title="run <1>")
    data = path.read_bytes()
    width, height = png_size(data)
    assert len(data) > 10_000
    assert 600 <= width <= 2000
    assert 400 <= height <= 2500
    assert fig.get_suptitle() == "run <1>"


def test_svg_is_written(tmp_path: Path) -> None:
    path = tmp_path / "curves.svg"
    plot_history(HISTORY, path=str(path))
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text[:1000]
    assert len(text) > 10_000


def test_one_panel_per_quantity_plus_lr_panel() -> None:
    fig = plot_history(HISTORY)
    assert len(fig.axes) == 3  # loss, accuracy, learning rate
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
    loss_ax = fig.axes[0]
    labels = [line.get_label() for line in loss_ax.lines]
    assert "training" in labels and "validation" in labels
    training = next(line for line in loss_ax.lines if line.get_label() == "training")
    assert list(training.get_xdata()) == list(range(1, 31))  # epochs are 1-based on the axis


def test_metrics_selects_panels_and_constant_lr_has_no_panel() -> None:
    history = {**HISTORY, "learning_rate": [1e-3] * 30}
    fig = plot_history(history, metrics=["val_accuracy"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    fig = plot_history(history, metrics=[])
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss"]
    assert lines_with_gid(fig, "lr_change") == []


def test_best_epoch_marker_and_event_lines() -> None:
    fig = plot_history(HISTORY, events=EVENTS)
    (marker,) = lines_with_gid(fig, "best_epoch_marker")
    assert list(marker.get_xdata()) == [13]  # 0-based epoch 12, drawn 1-based
    assert list(marker.get_ydata()) == [pytest.approx(0.35)]
    best_lines = lines_with_gid(fig, "best_epoch")
    assert len(best_lines) == 3 and all(list(ln.get_xdata()) == [13, 13] for ln in best_lines)
    stop_lines = lines_with_gid(fig, "stopped_epoch")
    assert len(stop_lines) == 3 and list(stop_lines[0].get_xdata()) == [28, 28]
    lr_lines = lines_with_gid(fig, "lr_change")
    assert len(lr_lines) == 3 and list(lr_lines[0].get_xdata()) == [20.5, 20.5]


def test_validation_every_second_epoch_and_no_validation() -> None:
    history = {"loss": HISTORY["loss"], "val_loss": HISTORY["val_loss"][1::2]}
    epochs = {"loss": list(range(30)), "val_loss": list(range(1, 30, 2))}
    fig = plot_history(history, epochs)
    val = next(line for line in fig.axes[0].lines if line.get_label() == "validation")
    assert list(val.get_xdata()) == list(range(2, 31, 2))
    (marker,) = lines_with_gid(fig, "best_epoch_marker")
    assert list(marker.get_xdata()) == [12]  # logged epochs 11 and 13 tie; the first counts
    fig = plot_history({"loss": HISTORY["loss"]})
    assert len(fig.axes) == 1
    assert lines_with_gid(fig, "best_epoch_marker") == []


def test_nan_values_and_blow_up_still_draw(tmp_path: Path) -> None:
    history = {"loss": [1.0, 0.5, float("nan"), float("inf")], "val_loss": [1.0, 0.6, 1e6, 1e9]}
    fig = plot_history(history, path=tmp_path / "bad.png")
    assert fig.axes[0].get_yscale() == "log"


def test_does_not_touch_pyplot_state() -> None:
    plot_history(HISTORY)
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match=r"`path` to end in '\.png' or '\.svg'"):
        plot_history(HISTORY, path=tmp_path / "curves.jpg")
    with pytest.raises(ArgumentError, match="available"):
        plot_history(HISTORY, metrics=["f1"])
    with pytest.raises(ArgumentError, match="besides the learning rate"):
        plot_history({"learning_rate": [0.1, 0.2]})


def test_missing_matplotlib_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'epochal\[plot\]'") as info:
        plot_history(HISTORY)
    assert str(info.value) == MISSING_MATPLOTLIB
    assert info.value.name == "matplotlib"


def test_the_figure_shows_itself_in_a_notebook_once() -> None:
    from matplotlib.figure import Figure

    fig = plot_history(HISTORY, events=EVENTS)
    assert isinstance(fig, Figure)  # still a matplotlib figure: savefig, axes, ...
    width, _ = png_size(fig._repr_png_())
    assert 400 <= width <= 1000
    assert fig._repr_html_() is None  # one display only: the PNG
    assert repr(fig) == "<learning curves: loss, accuracy, learning rate>"


def test_history_reprs_read_like_the_run() -> None:
    import epochal as ep

    h = ep.History()
    assert repr(h) == "History: no epochs"
    for epoch in range(30):
        h.record(epoch, {k: v[epoch] for k, v in HISTORY.items()})
    text = repr(h)
    assert text.splitlines()[0] == "History: 30 epochs (1-30)"
    assert f"  loss: {HISTORY['loss'][0]:.4g} -> {HISTORY['loss'][-1]:.4g}" in text
    assert text.splitlines()[-1] == h.diagnose().summary
    html = h._repr_html_()
    assert "<td>val_loss</td>" in html and "(epoch 13)" in html
    assert h.diagnose().summary.split(":")[0] in html
    only_acc = ep.History()
    only_acc.record(0, {"accuracy": 0.5})
    assert repr(only_acc).splitlines() == ["History: 1 epoch (1)", "  accuracy: 0.5 -> 0.5"]
