"""A real notebook, executed by a Jupyter kernel: what a user sees in each cell's output."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

import nbformat
from nbclient import NotebookClient

import epochal as ep

pytestmark = pytest.mark.slow

SETUP = """
import sys
sys.path.insert(0, {src!r})
import numpy as np, torch
from torch import nn
import epochal as ep

rng = np.random.default_rng(0)
x = rng.normal(size=(400, 4)).astype(np.float32)
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)

class Slow(ep.Callback):  # epochs longer than a refresh: the live bar is drawn
    def on_train_batch_end(self, batch, logs=None):
        import time
        time.sleep(0.02)

def new_model():
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    return model
"""

CELLS = {
    "setup": SETUP,
    "widgets": (
        "wmodel = new_model()\n"
        "whistory = wmodel.fit(x, y, epochs=6, validation_split=0.2, callbacks=[Slow()])"
    ),
    "plain": (
        "sys.modules['ipywidgets'] = None  # a notebook without ipywidgets\n"
        "model = new_model()\n"
        "history = model.fit(x, y, epochs=6, validation_split=0.2, callbacks=[Slow()])"
    ),
    "plot": "history.plot()",
    "diagnose": "model.history.diagnose()",
    "summary": "model.summary()",
    "history": "history",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    src = str(Path(ep.__file__).resolve().parents[1])
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code.format(src=src)) for code in CELLS.values()]
    folder = tmp_path_factory.mktemp("notebook")
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return {name: cell.outputs for name, cell in zip(CELLS, nb.cells, strict=True)}


def texts(outputs: list[dict]) -> list[str]:
    """The text of each output: stream text, or an execute result's plain text."""
    out = []
    for o in outputs:
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif "text/plain" in o.get("data", {}):
            out.append(o["data"]["text/plain"])
    return out


def test_no_cell_fails_or_warns(executed: dict[str, list[dict]]) -> None:
    for name, outputs in executed.items():
        assert not [o for o in outputs if o["output_type"] == "error"], name
        stderr = "".join(o["text"] for o in outputs if o.get("name") == "stderr")
        assert "Warning" not in stderr, (name, stderr)


def test_fit_without_widgets_prints_one_line_per_epoch(executed: dict[str, list[dict]]) -> None:
    lines = "".join(texts(executed["plain"])).splitlines()
    assert "\r" not in "".join(texts(executed["plain"]))
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == [f"Epoch {i}/6" for i in range(1, 7)]
    assert len(lines) <= 8  # six epochs and the verdict line: bounded, nothing repeated
    assert len(set(lines)) == len(lines)


def test_fit_with_widgets_draws_a_widget_bar_per_epoch(executed: dict[str, list[dict]]) -> None:
    outputs = executed["widgets"]
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(widgets) == 6
    lines = "".join(texts([o for o in outputs if o["output_type"] == "stream"])).splitlines()
    assert len(lines) <= 7  # each epoch's logs and the verdict, nothing repeated
    assert len(set(lines)) == len(lines)


def test_plot_is_one_inline_png(executed: dict[str, list[dict]]) -> None:
    outputs = executed["plot"]
    assert len(outputs) == 1
    data = outputs[0]["data"]
    assert "image/png" in data
    assert data["text/plain"].startswith("<learning curves: loss, accuracy")


def test_diagnosis_reads_as_the_verdict(executed: dict[str, list[dict]]) -> None:
    outputs = executed["diagnose"]
    assert len(outputs) == 1
    data = outputs[0]["data"]
    plain = data["text/plain"]
    assert plain.split(":")[0] in {
        "overfitting since epoch",
        "underfitting",
        "still improving",
        "converged",
        "too few epochs to judge",
        "unstable",
        "diverging",
    }
    assert "Diagnosis(" not in plain and "evidence" not in plain
    assert "<b>" in data["text/html"]


def test_summary_is_shown_once(executed: dict[str, list[dict]]) -> None:
    outputs = executed["summary"]
    assert len(outputs) == 1 and outputs[0]["output_type"] == "stream"
    assert "Total params" in outputs[0]["text"]


def test_history_reads_well(executed: dict[str, list[dict]]) -> None:
    (output,) = executed["history"]
    plain = output["data"]["text/plain"]
    assert plain.startswith("History: 6 epochs (1-6)")
    assert "loss: " in plain and "val_accuracy: " in plain
    assert "<table>" in output["data"]["text/html"]
