"""The Keras programs in ``examples/`` run as a Keras user runs them and reach what their data allows.

Each program is written as Keras's guides write it, with only the imports
changed to ``epochal.keras``. Each runs here in its own Python process (as
``python examples/<program>.py`` would, on one thread, in an empty folder),
must exit 0, and must print the numbers a Keras user would look at; the
checks read those numbers.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _python(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run Python on ``args`` in a fresh interpreter, importing this checkout's epochal, on one thread."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _run(program: str, cwd: Path) -> str:
    """Run an example program; return its output (fail on a non-zero exit)."""
    done = _python([str(EXAMPLES / program)], cwd)
    assert done.returncode == 0, (
        f"{program} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def _numbers(pattern: str, out: str) -> tuple[float, ...]:
    """The numbers a line of the output holds, found by a regular expression."""
    found = re.search(pattern, out)
    assert found is not None, f"no match for {pattern!r} in:\n{out}"
    return tuple(float(group) for group in found.groups())


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_conv_autoencoder_denoises(tmp_path):
    out = _run("keras_conv_autoencoder.py", tmp_path)
    assert "conv2d_transpose (Conv2DTranspose)" in out  # the summary shows the decoder
    first, last = _numbers(r"reconstruction loss: first epoch ([\d.]+), last epoch ([\d.]+)", out)
    assert last < 0.75 * first
    first_val, last_val = _numbers(
        r"validation loss: first epoch ([\d.]+), last epoch ([\d.]+)", out
    )
    assert last_val < 0.75 * first_val
    assert "predictions shape: (297, 8, 8, 1)" in out
    noisy, denoised = _numbers(r"noisy ([\d.]+), denoised ([\d.]+)", out)
    # The reconstructions are closer to the clean images than the noisy inputs are.
    assert denoised < 0.7 * noisy


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_transformer_block_sees_token_order(tmp_path):
    out = _run("keras_transformer_classifier.py", tmp_path)
    assert "predictions shape: (500, 2)" in out
    (accuracy,) = _numbers(r"validation accuracy: ([\d.]+)", out)
    # Chance is 0.5: the label is which of two tokens comes first, so a bag of
    # tokens cannot beat it; attention over positions can.
    assert accuracy > 0.8


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_lstm_seq2seq_reverses_digits(tmp_path):
    out = _run("keras_lstm_seq2seq.py", tmp_path)
    assert (tmp_path / "s2s_model.keras").is_file()
    (digit_accuracy,) = _numbers(r"held-out digit accuracy: ([\d.]+)", out)
    # Chance is 0.1 a digit; the greedy decoder (encoder and decoder models
    # built from the saved-and-loaded model's layers) reverses most held-out digits.
    assert digit_accuracy > 0.6
    decoded = re.findall(r"Input sentence: (\d+) Decoded sentence: (\S*)", out)
    assert len(decoded) == 3
    assert all(output.isdigit() for _, output in decoded)  # digits, then the stop token


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_custom_layer_in_model_subclass_trains(tmp_path):
    out = _run("keras_custom_layer_and_model.py", tmp_path)
    # build() saw the input size: (2 features, 32 units) and a bias.
    assert "weights of the first Linear layer: [(2, 32), (32,)]" in out
    assert "Total params: 1,185" in out
    first, last = _numbers(r"loss: first epoch ([\d.]+), last epoch ([\d.]+)", out)
    assert last < 0.5 * first
    assert "predictions shape: (200, 1)" in out
    (accuracy,) = _numbers(r"test accuracy: ([\d.]+)", out)
    assert accuracy > 0.93  # two moons with noise 0.2: a linear model reaches 0.88


# A new session: load the program's saved model in another process, under
# another seed, and continue training on the same data.
CONTINUE_IN_NEW_PROCESS = """
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from epochal import keras

x, y = load_wine(return_X_y=True)
x_train, _, y_train, _ = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
x_train = StandardScaler().fit(x_train).transform(x_train).astype("float32")
keras.utils.set_random_seed(99)
model = keras.models.load_model("wine.keras")
print(model.fit(x_train, y_train, batch_size=16, epochs=5, verbose=0).history["loss"])
"""


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_saved_and_loaded_run_continues_bit_for_bit(tmp_path):
    out = _run("keras_save_load_continue.py", tmp_path)
    assert (tmp_path / "wine.keras").is_file()
    assert "weight arrays compared: 4" in out
    assert "equals the uninterrupted run, bit for bit: True" in out
    before = _numbers(r"before saving\): \[([\d.]+), [\d., ]+, ([\d.]+)\]", out)
    after = _numbers(r"after loading\): \[([\d.]+), [\d., ]+, ([\d.]+)\]", out)
    # Training went on from the saved state: the loss keeps falling after loading.
    assert after[0] < before[0] and after[1] < after[0]
    (accuracy,) = _numbers(r"test accuracy: ([\d.]+)", out)
    assert accuracy > 0.9

    # And in a new session (another process, another seed), loading the saved
    # file continues with the same five losses to the last bit (Python prints
    # each float's exact repr).
    done = _python(["-c", CONTINUE_IN_NEW_PROCESS], tmp_path)
    assert done.returncode == 0, done.stderr
    found = re.search(r"after loading\): (\[.*\])", out)
    assert found is not None, out
    assert done.stdout.strip() == found.group(1)


@pytest.mark.slow  # a whole program in a fresh interpreter
def test_sequential_classifier_evaluate_idiom(tmp_path):
    out = _run("keras_sequential_classifier.py", tmp_path)
    # evaluate gives Keras's [loss, accuracy], so the unpacking holds numbers
    # (a dict would unpack to its keys and print "Test loss: loss").
    (test_loss,) = _numbers(r"Test loss: ([\d.]+)", out)
    (test_acc,) = _numbers(r"Test accuracy: ([\d.]+)", out)
    assert test_loss < 0.5
    assert test_acc > 0.9
    assert "predictions shape: (450, 10)" in out


# The programs this file runs (other files run the other examples).
KERAS_PROGRAMS = [
    "keras_conv_autoencoder.py",
    "keras_custom_layer_and_model.py",
    "keras_lstm_seq2seq.py",
    "keras_save_load_continue.py",
    "keras_sequential_classifier.py",
    "keras_transformer_classifier.py",
]


def _imports(path: Path) -> list[tuple[str, str]]:
    """The (module, name) pairs a program imports; name is empty for ``import module``."""
    pairs = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            pairs += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            pairs += [(node.module or "", alias.name) for alias in node.names]
    return pairs


@pytest.mark.parametrize("program", sorted(path.name for path in EXAMPLES.glob("keras_*.py")))
def test_keras_program_imports_only_epochal_keras(program):
    # "Only the imports changed": Keras comes from epochal.keras, never from
    # torch or epochal's native API, so the rest of the file is Keras code.
    for module, name in _imports(EXAMPLES / program):
        top = module.split(".")[0]
        assert top != "torch", f"{program} imports {module}"
        if module == "epochal":
            assert name == "keras", f"{program} imports {name or 'epochal'} from epochal"
        elif top == "epochal":
            assert module.startswith("epochal.keras"), f"{program} imports from {module}"


def test_every_example_is_run_by_a_test():
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    for path in sorted(EXAMPLES.glob("*.py")):
        assert f'"{path.name}"' in tests, f"examples/{path.name} is run by no test"


def test_keras_programs_are_run_here_and_documented():
    tests = Path(__file__).read_text()
    docs = (ROOT / "docs" / "examples.md").read_text()
    for program in KERAS_PROGRAMS:
        assert (EXAMPLES / program).is_file()
        assert f'_run("{program}"' in tests, f"{program} is not run here"
        assert f"`{program}`" in docs, f"{program} is not in docs/examples.md"
