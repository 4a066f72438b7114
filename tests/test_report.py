"""write_report renders one self-contained, escaped HTML file."""

from __future__ import annotations

import base64
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from epochal.diagnose import diagnose
from epochal.errors import ArgumentTypeError
from epochal.report import write_report

E = np.arange(30)
HISTORY = {
    "loss": [float(v) for v in 0.2 + np.exp(-E / 6)],
    "accuracy": [float(v) for v in 0.95 - 0.5 * np.exp(-E / 6)],
    "val_loss": [float(v) for v in 0.35 + 0.002 * (E - 12) ** 2],
    "val_accuracy": [float(v) for v in 0.85 - 0.001 * (E - 12) ** 2],
    "learning_rate": [1e-3] * 20 + [1e-4] * 10,
}
SETTINGS = {
    "optimizer": "adam",
    "loss": "binary_crossentropy",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "epochs": 30,
    "seed": 0,
    "model": {"layers": [64, 64, 1], "dropout": 0.1},
}


class _Collector(HTMLParser):
    """Collects tags and table cells, and fails on malformed nesting of the ones we use."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def test_report_has_verdict_figure_settings_and_values(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    events = {"stopped_epoch": 27, "best_epoch": 12, "restored_epoch": 12}
    out = write_report(tmp_path / "report.html", history=HISTORY, settings=SETTINGS, events=events)
    assert out == tmp_path / "report.html"
    text = out.read_text(encoding="utf-8")
    d = diagnose(HISTORY, events=events)
    assert d.verdict == "overfitting"
    assert d.summary in text  # no characters in it need escaping
    assert d.advice.split(":")[0] in text
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert match is not None
    assert base64.b64decode(match.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<style>" in text and "http://" not in text and "https://" not in text
    cells = parse(text).cells
    settings = cells[cells.index("setting") :]
    for key, value in [("optimizer", "adam"), ("batch_size", "32"), ("learning_rate", "0.001")]:
        assert settings[settings.index(key) + 1] == value
    assert settings[settings.index("model.layers") + 1] == "64, 64, 1"
    # final/best table: val_loss is lowest at epoch 13 (1-based), accuracy is highest at the end
    values = cells[cells.index("key") : cells.index("setting")]
    i = values.index("val_loss")
    assert values[i + 3 : i + 5] == ["0.35", "13"]
    i = values.index("accuracy")
    assert values[i + 2] == "30" and values[i + 4] == "30"


def test_hostile_strings_are_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert('x')</script>"
    history = {**HISTORY, "<b>odd</b>": [1.0] * 30}
    out = write_report(
        tmp_path / "r.html",
        history=history,
        settings={"note": hostile, hostile: "key too"},
    )
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "<b>odd</b>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "script" not in parse(text).tags
    assert hostile in parse(text).cells  # the text survives, as text


def test_given_diagnosis_is_used(tmp_path: Path) -> None:
    d = diagnose({"loss": HISTORY["loss"]})
    text = write_report(tmp_path / "r.html", history=HISTORY, settings={}, diagnosis=d).read_text(
        encoding="utf-8"
    )
    assert d.summary in text
    assert "No settings recorded" in text


def test_report_without_matplotlib_has_tables_and_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    text = write_report(tmp_path / "r.html", history=HISTORY, settings=SETTINGS).read_text(
        encoding="utf-8"
    )
    assert "data:image/png" not in text
    assert "The curves are not drawn" in text
    assert "pip install &#x27;epochal[plot]&#x27;" in text
    assert "adam" in parse(text).cells
    assert "overfitting since epoch" in text


def test_history_without_loss_still_reports(tmp_path: Path) -> None:
    text = write_report(
        tmp_path / "r.html", history={"accuracy": [0.5, 0.6, 0.7]}, settings={}
    ).read_text(encoding="utf-8")
    assert "No verdict" in text
    assert "accuracy" in parse(text).cells


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ArgumentTypeError, match="`settings`"):
        write_report(tmp_path / "r.html", history=HISTORY, settings=[("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="`diagnosis`"):
        write_report(tmp_path / "r.html", history=HISTORY, settings={}, diagnosis="good")  # type: ignore[arg-type]
    assert not (tmp_path / "r.html").exists()


# --- the run's facts, settings that agree with the tables, advice that fits the run -------------


def test_run_facts_are_listed_and_missing_ones_say_so(tmp_path: Path) -> None:
    from epochal.report import versions

    facts = {
        "batch_size": 64,
        "train_samples": 800,
        "validation_samples": 200,
        "parameters": 1537,
        "layers": ["0 (weight 8x4, bias 8)", "2 (weight 1x8, bias 1)"],
        "wall_time_s": 12.5,
        "test": {"loss": 0.25, "accuracy": 0.9},
    }
    path = write_report(tmp_path / "r.html", history=HISTORY, settings=SETTINGS, facts=facts)
    cells = cells_of(path.read_text(encoding="utf-8"))
    row = dict(zip(cells[::2], cells[1::2], strict=False))
    assert row["batch size"] == "64"
    assert row["training samples"] == "800" and row["validation samples"] == "200"
    assert row["parameters"] == "1537"
    assert "weight 8x4" in row["layers"]
    assert row["wall time (s)"] == "12.5"
    assert row["test score"] == "loss 0.25, accuracy 0.9"
    v = versions()
    assert row["versions"] == f"epochal {v['epochal']}, torch {v['torch']}, python {v['python']}"
    bare = cells_of(write_report(tmp_path / "b.html", history=HISTORY, settings={}).read_text())
    bare_row = dict(zip(bare[::2], bare[1::2], strict=False))
    assert bare_row["batch size"] == "not recorded"
    assert bare_row["test score"] == "not recorded"
    assert bare_row["versions"].startswith("epochal ")
    with pytest.raises(ArgumentTypeError, match="facts"):
        write_report(tmp_path / "x.html", history=HISTORY, settings={}, facts=[1])  # type: ignore[arg-type]


def cells_of(text: str) -> list[str]:
    parser = _Collector()
    parser.feed(text)
    return parser.cells


def _trained_run(tmp_path: Path, *, learning_rate: float | None) -> Path:
    import torch
    from torch import nn

    import epochal as ep

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
    model.compile(optimizer="sgd", loss="bce", learning_rate=learning_rate, seed=0)
    stop = ep.EarlyStopping(monitor="val_loss", patience=50)
    model.fit(x, y, epochs=8, verbose=0, validation_split=0.25, callbacks=[stop])
    model.save(tmp_path / "run")
    return tmp_path / "run"


def test_checkpoint_report_settings_agree_with_tables_and_weights(tmp_path: Path) -> None:
    from epochal.report import report_checkpoint

    run = _trained_run(tmp_path, learning_rate=None)
    path, diagnosis = report_checkpoint(run, tmp_path / "r.html", facts={"batch_size": 32})
    cells = cells_of(path.read_text(encoding="utf-8"))
    row = dict(zip(cells[::2], cells[1::2], strict=False))
    assert row["learning_rate"] == "0.01 (the optimizer's default)"  # SGD's, as logged
    assert row["parameters"] == str(4 * 8 + 8 + 8 + 1)
    assert row["batch size"] == "32"
    assert row["callbacks"] == "EarlyStopping"
    assert "EarlyStopping(" not in diagnosis.advice
    run2 = _trained_run(tmp_path / "b", learning_rate=0.05)
    cells = cells_of(report_checkpoint(run2, tmp_path / "r2.html")[0].read_text())
    assert dict(zip(cells[::2], cells[1::2], strict=False))["learning_rate"] == "0.05"


@pytest.mark.slow
def test_demo_without_scikit_learn_prints_one_line(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "from epochal.cli import main\n"
        "sys.exit(main(['demo', '--run-dir', sys.argv[1]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "epochal demo needs scikit-learn (the demo's data ships with it): "
        "pip install 'epochal[demo]'"
    ]
