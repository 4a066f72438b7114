"""Verdicts on constructed learning curves, clean and with seeded noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochal import diagnose as dg
from epochal.diagnose import Diagnosis, diagnose
from epochal.errors import ArgumentError, ArgumentTypeError

E = np.arange(40)
TRAIN_FALLING = 0.2 + 1.0 * np.exp(-E / 8)
VAL_U = 0.35 + 0.0015 * (E - 15) ** 2  # minimum at epoch 15 (0-based)


def noisy(y: np.ndarray, sd: float, seed: int) -> list[float]:
    """``y`` with multiplicative Gaussian noise of relative size ``sd``."""
    rng = np.random.default_rng(seed)
    return [float(v) for v in y * (1 + sd * rng.standard_normal(len(y)))]


def clean(y: np.ndarray) -> list[float]:
    return [float(v) for v in y]


# --- overfitting ------------------------------------------------------------------------------


def test_clear_overfitting_reports_onset_and_rise() -> None:
    d = diagnose({"loss": clean(TRAIN_FALLING), "val_loss": clean(VAL_U)})
    assert d.verdict == "overfitting"
    assert d.since_epoch == 15
    assert d.best_epoch == 15
    end = float(np.median(VAL_U[-3:]))
    assert d.evidence["rise_pct"] == pytest.approx(100 * (end - 0.35) / 0.35, rel=0.02)
    train_fall = 100 * (TRAIN_FALLING[15] - np.median(TRAIN_FALLING[-3:])) / TRAIN_FALLING[15]
    assert d.evidence["train_fall_pct"] == pytest.approx(train_fall, rel=0.05)
    assert d.summary.startswith("overfitting since epoch 16: val_loss rose ")  # 1-based
    assert "while loss fell" in d.summary
    assert d.cannot_judge == (
        "underfitting against the trivial predictor: no baseline_loss "
        "for this series; judged against the first epoch instead",
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_overfitting_onset_within_two_epochs(seed: int) -> None:
    history = {"loss": noisy(TRAIN_FALLING, 0.02, seed), "val_loss": noisy(VAL_U, 0.03, seed + 10)}
    d = diagnose(history)
    assert d.verdict == "overfitting"
    assert d.since_epoch is not None and abs(d.since_epoch - 15) <= 2
    assert float(d.evidence["rise_pct"]) > 150
    assert float(d.evidence["train_fall_pct"]) > 30


def test_overfitting_with_flat_training_loss() -> None:
    train = np.r_[TRAIN_FALLING[:16], np.full(24, TRAIN_FALLING[15])]
    d = diagnose({"loss": clean(train), "val_loss": clean(VAL_U)})
    assert d.verdict == "overfitting"
    assert "stayed flat" in d.summary


def test_validation_every_second_epoch_uses_epochs_mapping() -> None:
    val_epochs = E[1::2]  # validation_freq=2: epochs 1, 3, 5, ...
    history = {"loss": clean(TRAIN_FALLING), "val_loss": clean(VAL_U[val_epochs])}
    epochs = {"loss": list(range(40)), "val_loss": [int(e) for e in val_epochs]}
    d = diagnose(history, epochs)
    assert d.verdict == "overfitting"
    assert d.since_epoch == 15  # a run epoch, not the 8th validation point
    assert d.best_epoch == 15


def test_single_noisy_uptick_at_end_is_not_overfitting() -> None:
    val = 0.15 + 2 * np.exp(-E / 15)
    val[-1] *= 1.6  # one bad validation epoch
    d = diagnose({"loss": clean(0.1 + 2 * np.exp(-E / 15)), "val_loss": clean(val)})
    assert d.verdict == "still_improving"
    assert d.since_epoch is None


def test_upturn_of_two_epochs_is_not_overfitting_yet() -> None:
    val = 0.15 + 2 * np.exp(-E / 15)
    val[-2:] *= [1.3, 1.4]
    d = diagnose({"loss": clean(0.1 + 2 * np.exp(-E / 15)), "val_loss": clean(val)})
    assert d.verdict != "overfitting"
    assert d.since_epoch is None


def test_noisy_plateau_is_not_overfitting() -> None:
    rng_seeds = range(20)
    for seed in rng_seeds:
        history = {
            "loss": noisy(0.1 + 2 * np.exp(-E / 3), 0.02, seed),
            "val_loss": noisy(0.15 + 2 * np.exp(-E / 3), 0.04, seed + 100),
        }
        assert diagnose(history, baseline_loss=2.3).verdict == "converged", seed


def test_validation_and_training_both_rising_is_unstable_not_overfitting() -> None:
    # 12% up: more than the overfitting tolerance, less than a divergence.
    train = np.r_[TRAIN_FALLING[:15], TRAIN_FALLING[15] * (1 + 0.005 * np.arange(1, 26))]
    d = diagnose({"loss": clean(train), "val_loss": clean(VAL_U)})
    assert d.verdict == "unstable"
    assert "loss rose too" in d.summary


# --- underfitting, still improving, converged ---------------------------------------------------


def underfit_history(sd: float = 0.0, seed: int = 0) -> dict[str, list[float]]:
    train = 0.69 - 0.02 * (1 - np.exp(-E / 3))
    val = 0.70 - 0.02 * (1 - np.exp(-E / 3))
    if sd == 0:
        return {"loss": clean(train), "val_loss": clean(val)}
    return {"loss": noisy(train, sd / 2, seed), "val_loss": noisy(val, sd, seed + 1)}


@pytest.mark.parametrize("sd", [0.0, 0.03])
def test_underfitting_near_baseline(sd: float) -> None:
    d = diagnose(underfit_history(sd), baseline_loss=0.693)
    assert d.verdict == "underfitting"
    assert float(d.evidence["baseline_ratio"]) == pytest.approx(0.67 / 0.693, abs=0.03)
    assert "trivial predictor" in d.summary
    assert not any("baseline" in c for c in d.cannot_judge)


def test_underfitting_without_baseline_judged_against_start() -> None:
    d = diagnose(underfit_history())
    assert d.verdict == "underfitting"
    assert float(d.evidence["start_ratio"]) > dg.UNDERFIT_START_RATIO
    assert any("no baseline_loss" in c for c in d.cannot_judge)


def test_high_but_still_falling_is_still_improving_not_underfitting() -> None:
    train = 0.69 - 0.004 * E  # 0.69 -> 0.53, above 0.8 x baseline for most of the run
    d = diagnose({"loss": clean(train), "val_loss": clean(train + 0.01)}, baseline_loss=0.693)
    assert d.verdict == "still_improving"


@pytest.mark.parametrize("sd", [0.0, 0.03])
def test_still_improving(sd: float) -> None:
    train = 0.1 + 2 * np.exp(-E / 15)
    val = 0.15 + 2 * np.exp(-E / 15)
    history = (
        {"loss": clean(train), "val_loss": clean(val)}
        if sd == 0
        else {"loss": noisy(train, sd / 2, 5), "val_loss": noisy(val, sd, 6)}
    )
    d = diagnose(history, baseline_loss=2.3)
    assert d.verdict == "still_improving"
    assert float(d.evidence["trend_t"]) <= -dg.T_SIGNIFICANT
    assert float(d.evidence["trend_rel_slope_pct"]) < -1
    assert d.best_epoch in (38, 39)


@pytest.mark.parametrize("sd", [0.0, 0.05])
def test_converged_flat_low_plateau(sd: float) -> None:
    train = 0.1 + 2 * np.exp(-E / 3)
    val = 0.15 + 2 * np.exp(-E / 3)
    history = (
        {"loss": clean(train), "val_loss": clean(val)}
        if sd == 0
        else {"loss": noisy(train, sd / 2, 7), "val_loss": noisy(val, sd, 8)}
    )
    d = diagnose(history, baseline_loss=2.3)
    assert d.verdict == "converged"
    assert float(d.evidence["baseline_ratio"]) < 0.1
    assert d.summary.startswith("converged: val_loss is flat at ")


# --- diverging and unstable -------------------------------------------------------------------


def test_nan_loss_is_diverging_with_epoch() -> None:
    nan = float("nan")
    d = diagnose({"loss": [1.0, 0.8, 0.6, nan, nan], "val_loss": [1.0, 0.9, 0.7, 0.8, 0.9]})
    assert d.verdict == "diverging"
    assert d.evidence["nonfinite_key"] == "loss"
    assert d.evidence["nonfinite_epoch"] == 3
    assert "from epoch 4" in d.summary


def test_inf_validation_loss_is_diverging() -> None:
    d = diagnose({"loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [1.0, 0.9, math.inf, 0.9]})
    assert d.verdict == "diverging"
    assert d.evidence["nonfinite_key"] == "val_loss"


@pytest.mark.parametrize("sd", [0.0, 0.03])
def test_exponential_blow_up_is_diverging(sd: float) -> None:
    loss = np.r_[np.exp(-E[:20] / 5) + 0.1, 0.12 * np.exp(E[:8] * 0.8)]
    history = {"loss": noisy(loss, sd, 3), "val_loss": noisy(loss + 0.05, sd, 4)}
    d = diagnose(history)
    assert d.verdict == "diverging"
    assert float(d.evidence["growth_vs_min"]) > dg.DIVERGE_FROM_MIN


def test_sustained_training_loss_rise_is_diverging() -> None:
    loss = np.r_[np.exp(-E[:20] / 5) + 0.2, (np.exp(-4) + 0.2) * (1 + 0.04 * np.arange(1, 21))]
    d = diagnose({"loss": clean(loss)})
    assert d.verdict == "diverging"
    assert float(d.evidence["rise_pct"]) >= 100 * dg.DIVERGE_MIN_RISE


def test_large_oscillation_is_unstable() -> None:
    loss = 0.5 + 0.2 * np.sin(E * 2.5)
    d = diagnose({"loss": clean(loss), "val_loss": clean(0.6 + 0.25 * np.cos(E * 2.1))})
    assert d.verdict == "unstable"
    assert float(d.evidence["noise_pct"]) >= 100 * dg.UNSTABLE_MIN_NOISE
    assert float(d.evidence["reversal_fraction"]) >= dg.UNSTABLE_MIN_FLIP_FRACTION


def test_large_noise_is_unstable() -> None:
    history = {
        "loss": noisy(np.full(40, 0.5), 0.3, 9),
        "val_loss": noisy(np.full(40, 0.6), 0.3, 10),
    }
    assert diagnose(history).verdict == "unstable"


# --- little or partial data -------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2])
def test_insufficient_data(n: int) -> None:
    history = {"loss": [1.0, 0.5][:n], "val_loss": [1.1, 0.6][:n]}
    d = diagnose(history)
    assert d.verdict == "insufficient_data"
    assert d.best_epoch == n - 1
    assert f"{n} epoch(s) of val_loss" in d.summary


def test_validation_too_sparse_for_monitor_is_insufficient() -> None:
    d = diagnose(
        {"loss": clean(TRAIN_FALLING), "val_loss": [0.5, 0.4]},
        {"loss": list(range(40)), "val_loss": [9, 19]},
    )
    assert d.verdict == "insufficient_data"


def test_without_validation_judges_training_loss() -> None:
    d = diagnose({"loss": clean(0.1 + 2 * np.exp(-E / 15))})
    assert d.verdict == "still_improving"
    assert d.evidence["monitor"] == "loss"
    assert any(c.startswith("overfitting: no validation data") for c in d.cannot_judge)
    d = diagnose({"loss": noisy(0.1 + 2 * np.exp(-E / 3), 0.03, 11)})
    assert d.verdict == "converged"


# --- events, output, arguments ----------------------------------------------------------------


def test_events_are_mentioned_in_summary_1_based() -> None:
    events = {"stopped_epoch": 25, "best_epoch": 15, "restored_epoch": 15}
    d = diagnose({"loss": clean(TRAIN_FALLING[:26]), "val_loss": clean(VAL_U[:26])}, events=events)
    assert d.verdict == "overfitting"
    assert d.summary.endswith("; early stopping at epoch 26; restored epoch 16 weights")
    assert "restored weights from epoch 16" in d.advice
    assert d.evidence["stopped_epoch"] == 25


def test_diagnosis_is_frozen_and_str_has_summary_and_advice() -> None:
    d = diagnose({"loss": clean(TRAIN_FALLING), "val_loss": clean(VAL_U)})
    assert isinstance(d, Diagnosis)
    assert str(d) == f"{d.summary}\n{d.advice}"
    assert "\n" not in d.summary
    with pytest.raises(AttributeError):
        d.verdict = "converged"  # type: ignore[misc]


def test_argument_errors_name_the_argument() -> None:
    with pytest.raises(ArgumentTypeError, match="`history`"):
        diagnose([0.1, 0.2])  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="monitor='val_accuracy'"):
        diagnose({"val_accuracy": [0.1, 0.2, 0.3]}, monitor="val_accuracy")
    with pytest.raises(ArgumentError, match="available keys"):
        diagnose({"accuracy": [0.1, 0.2, 0.3]})
    with pytest.raises(ArgumentError, match=r"epochs\['loss'\]"):
        diagnose({"loss": [1.0, 0.5, 0.4]}, {"loss": [0, 1]})
    with pytest.raises(ArgumentError, match=r"epochs\['loss'\] to be increasing"):
        diagnose({"loss": [1.0, 0.5, 0.4]}, {"loss": [0, 2, 1]})
    with pytest.raises(ArgumentError, match="`epochs` has no entry"):
        diagnose({"loss": [1.0, 0.5, 0.4]}, {"val_loss": [0, 1, 2]})
    with pytest.raises(ArgumentError, match="baseline_loss"):
        diagnose({"loss": [1.0, 0.5, 0.4]}, baseline_loss=math.nan)
    with pytest.raises(ArgumentError, match=r"events\['stopped_epoch'\]"):
        diagnose({"loss": [1.0, 0.5, 0.4]}, events={"stopped_epoch": -1})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.001, 100.0), min_size=1, max_size=30),
    st.lists(st.floats(0.001, 100.0), min_size=1, max_size=30),
)
def test_any_positive_curves_get_a_verdict(train: list[float], val: list[float]) -> None:
    d = diagnose({"loss": train, "val_loss": val})
    assert d.verdict in dg.Verdict.__args__  # type: ignore[attr-defined]
    assert "\n" not in d.summary and d.advice
    if d.since_epoch is not None:
        assert 0 <= d.since_epoch < len(val)
    assert d.best_epoch is not None and 0 <= d.best_epoch < len(val)


# --- short runs, constant targets, advice that fits the run -------------------------------------


@pytest.mark.parametrize("n", [3, 4])
def test_a_short_improving_run_is_too_few_epochs_not_converged(n: int) -> None:
    val = [1.26, 0.55, 0.39, 0.33][:n]
    d = diagnose({"loss": [1.5, 0.8, 0.5, 0.4][:n], "val_loss": val}, baseline_loss=2.3)
    assert d.verdict == "insufficient_data"
    assert d.summary.startswith("too few epochs to judge")
    assert "still falling" in d.summary
    assert "converged" not in d.summary


def test_a_short_flat_run_is_too_few_epochs_without_still_falling() -> None:
    d = diagnose({"loss": [0.5, 0.5, 0.51, 0.5], "val_loss": [0.6, 0.61, 0.6, 0.6]})
    assert d.verdict == "insufficient_data"
    assert "still falling" not in d.summary


def test_falling_at_the_last_epochs_is_never_converged() -> None:
    plateau = 0.5 + 0.01 * np.sign(np.sin(np.arange(30) * 1.7))
    val = [*clean(plateau), 0.47, 0.44, 0.41]
    d = diagnose({"loss": [v - 0.05 for v in val], "val_loss": val}, baseline_loss=2.3)
    assert d.verdict == "still_improving", d.summary
    assert float(d.evidence["end_fall_pct"]) > 100 * dg.END_FALL_MIN
    # The same plateau ending on a small dip within its noise is converged.
    val = [*clean(plateau), 0.495, 0.492, 0.489]
    assert diagnose({"loss": val, "val_loss": val}, baseline_loss=2.3).verdict == "converged"


@pytest.mark.parametrize("losses", [[0.0] * 8, [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-7, 1e-7]])
def test_zero_baseline_never_divides_by_zero(losses: list[float]) -> None:
    d = diagnose({"loss": losses, "val_loss": losses}, baseline_loss=0.0)
    assert d.verdict in ("converged", "still_improving")
    assert any("constant targets" in c for c in d.cannot_judge)


def test_fit_on_constant_targets_returns_its_history(capsys) -> None:
    import torch
    from torch import nn

    import epochal as ep

    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = np.ones((64, 1), dtype=np.float32)
    torch.manual_seed(0)
    model = ep.Model(nn.Linear(3, 1), device="cpu")
    model.compile(optimizer="sgd", loss="mse", seed=0)
    history = model.fit(x, y, epochs=6, verbose=2, validation_split=0.25)
    assert len(history.epoch) == 6
    assert model.run.baseline_loss == 0.0
    assert capsys.readouterr().out.strip().splitlines()[-1] == model.history.diagnose().summary


def test_advice_never_recommends_what_the_run_used() -> None:
    improving = {
        "loss": clean(0.1 + 2 * np.exp(-E / 15)),
        "val_loss": clean(0.15 + 2 * np.exp(-E / 15)),
    }
    plain = diagnose(improving, baseline_loss=2.3)
    used = diagnose(improving, baseline_loss=2.3, callbacks=["EarlyStopping", "CSVLogger"])
    assert "EarlyStopping(monitor=" in plain.advice
    assert "EarlyStopping(" not in used.advice
    flat = {"loss": clean(0.1 + 2 * np.exp(-E / 3)), "val_loss": clean(0.15 + 2 * np.exp(-E / 3))}
    d = diagnose(flat, baseline_loss=2.3, callbacks=["ReduceLROnPlateau#1", "EarlyStopping"])
    assert d.verdict == "converged"
    assert "(ReduceLROnPlateau)" not in d.advice and "use EarlyStopping" not in d.advice
    stopped = diagnose(flat, baseline_loss=2.3, events={"stopped_epoch": 39})
    assert "use EarlyStopping" not in stopped.advice
    with pytest.raises(ArgumentTypeError, match="callbacks"):
        diagnose(flat, callbacks="EarlyStopping")


def test_reprs_read_like_the_verdict() -> None:
    d = diagnose({"loss": clean(TRAIN_FALLING), "val_loss": clean(VAL_U)})
    assert repr(d) == f"<Diagnosis {d.summary}>"
    html = d._repr_html_()
    assert "<b>overfitting since epoch" in html and "&lt;" not in d.summary
    assert "Diagnosis(verdict=" not in repr(d)
