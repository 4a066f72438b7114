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
