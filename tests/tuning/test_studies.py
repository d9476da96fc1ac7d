"""Studies in a real storage: the budget, trial 0, resuming after a kill,
two processes filling one study, diverging trials, and best parameters that
the tuned retrain reads back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from ncf_movielens.parameters import (
    TUNABLE_OPTIONS,
    EASEModelOptions,
    LightFMModelOptions,
    LightFMTrainingOptions,
    NCFModelOptions,
    NCFTrainingOptions,
)
from ncf_movielens.tuning import objectives, studies
from tests.support import PROJECT, project_params
from tests.tuning.study_worker import open_test_study


def _options(model: str, **training):
    params = project_params()[model]
    kinds = TUNABLE_OPTIONS[model]
    options = {
        group: kind.model_validate(params[group]) for group, kind in kinds.items()
    }
    if training:
        options["training_options"] = options["training_options"].model_copy(
            update=training
        )
    return options


def _worker(storage: str, n_trials: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.tuning.study_worker",
            storage,
            str(n_trials),
            str(seconds),
        ],
        cwd=PROJECT,
    )


def _states(study: optuna.Study) -> list[TrialState]:
    return [trial.state for trial in study.get_trials(deepcopy=False)]


def test_ease_study_runs_its_budget_from_the_defaults(
    split, tuning_params, study_options
):
    fit, validation = split
    best, trials = objectives.tune_model(
        "ease", fit, validation, _options("ease"), tuning_params.ease, study_options
    )
    assert best["trials"] == {"complete": study_options.n_trials}
    assert list(trials["number"]) == list(range(study_options.n_trials))
    assert trials.loc[0, "params_l2"] == project_params()["ease"]["model_options"]["l2"]
    assert best["best_value"] == pytest.approx(trials["value"].max())
    assert best["objective"] == "ndcg@10"
    tuned = objectives.tuned_options("ease", best)["model_options"]
    assert isinstance(tuned, EASEModelOptions)
    assert tuned.l2 == best["best_params"]["l2"]
    # The same command again: the study is finished, nothing more runs.
    again, _ = objectives.tune_model(
        "ease", fit, validation, _options("ease"), tuning_params.ease, study_options
    )
    assert again["trials"] == best["trials"]
    assert again["best_trial"] == best["best_trial"]


def test_other_fit_data_starts_another_study(split, tuning_params, study_options):
    fit, validation = split
    first, _ = objectives.tune_model(
        "ease", fit, validation, _options("ease"), tuning_params.ease, study_options
    )
    other, _ = objectives.tune_model(
        "ease", validation, fit, _options("ease"), tuning_params.ease, study_options
    )
    assert first["study"] != other["study"]
    assert first["study"].startswith(f"{study_options.name_prefix}-ease-")


def test_lightfm_best_epoch_is_the_tuned_epochs(split, tuning_params, study_options):
    fit, validation = split
    tuning = tuning_params.lightfm.model_copy(update={"report_every": 2, "patience": 2})
    space = dict(tuning.space)
    space["training_options"] = {
        "epochs": tuning.space["training_options"]["epochs"].model_copy(
            update={"low": 4, "high": 8}
        )
    }
    tuning = tuning.model_copy(update={"space": space})
    best, trials = objectives.tune_model(
        "lightfm", fit, validation, _options("lightfm"), tuning, study_options
    )
    tuned = objectives.tuned_options("lightfm", best)
    assert isinstance(tuned["model_options"], LightFMModelOptions)
    assert isinstance(tuned["training_options"], LightFMTrainingOptions)
    epochs = best["best_user_attrs"]["epochs"]
    assert tuned["training_options"].epochs == epochs
    assert epochs % 2 == 0 or epochs == best["best_params"]["epochs"]
    assert tuned["model_options"].loss == best["best_params"]["loss"]
    assert tuned["model_options"].no_components == best["best_params"]["no_components"]


def test_ncf_trials_stop_on_the_validation_ranking(split, tuning_params, study_options):
    fit, validation = split
    tuning = tuning_params.ncf
    space = {
        "model_options": {
            "latent_dim_mf": tuning.space["model_options"]["latent_dim_mf"]
        },
        "training_options": {
            "learning_rate": tuning.space["training_options"]["learning_rate"]
        },
    }
    fixed = {
        "training_options": {
            **tuning.fixed["training_options"],
            "epochs": 3,
            "batch_size": 64,
            "jit_compile": False,
        }
    }
    tuning = tuning.model_copy(update={"space": space, "fixed": fixed, "patience": 2})
    best, trials = objectives.tune_model(
        "ncf",
        fit,
        validation,
        _options("ncf"),
        tuning,
        study_options.model_copy(update={"n_trials": 2}),
    )
    tuned = objectives.tuned_options("ncf", best)
    assert isinstance(tuned["model_options"], NCFModelOptions)
    assert isinstance(tuned["training_options"], NCFTrainingOptions)
    assert tuned["model_options"].latent_dim_mf == best["best_params"]["latent_dim_mf"]
    assert 1 <= tuned["training_options"].epochs <= 3
    assert tuned["training_options"].epochs == best["best_user_attrs"]["epochs"]
    assert tuned["training_options"].validation_split == 0.0
    assert 0 < best["best_value"] <= 1


class _NaNModel:
    def score_users(self, users, n_items):
        return np.full((len(users), n_items), np.nan, dtype=np.float32)


def test_a_diverging_trial_is_pruned_and_the_study_goes_on(
    split, tuning_params, study_options, monkeypatch
):
    fit, validation = split
    real = objectives.FITTERS["ease"]
    calls = []

    def sometimes_nan(matrix, options, epoch_end):
        calls.append(1)
        if len(calls) == 2:
            return _NaNModel(), 0
        return real(matrix, options, epoch_end)

    monkeypatch.setitem(objectives.FITTERS, "ease", sometimes_nan)
    best, trials = objectives.tune_model(
        "ease", fit, validation, _options("ease"), tuning_params.ease, study_options
    )
    assert list(trials["state"]) == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"]
    assert "NaN" in trials.loc[1, "user_attrs_diverged"]
    assert best["best_trial"] != 1


def test_a_study_of_only_diverged_trials_is_an_error(
    split, tuning_params, study_options, monkeypatch
):
    fit, validation = split
    monkeypatch.setitem(
        objectives.FITTERS, "ease", lambda matrix, options, epoch_end: (_NaNModel(), 0)
    )
    with pytest.raises(RuntimeError, match="no complete trial"):
        objectives.tune_model(
            "ease", fit, validation, _options("ease"), tuning_params.ease, study_options
        )


def test_a_killed_study_resumes_with_its_trial_numbers(tmp_path):
    storage = f"sqlite:///{tmp_path / 'killed.db'}"
    # Trials of 2 s: the kill lands inside a trial's objective, after its
    # first heartbeat. Optuna never fails a trial killed between its creation
    # and its first heartbeat (no heartbeat, never stale), so a kill at a
    # trial boundary would leave it RUNNING (harmless: budgets count only
    # finished trials) and this test would be flaky.
    worker = _worker(storage, 8, 2.0)
    study = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            study = open_test_study(storage, 8)
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        except Exception:
            continue
        if studies.finished_trials(study) >= 3 and any(
            "pid" in trial.user_attrs for trial in running
        ):
            break
    time.sleep(0.5)  # the heartbeat thread started before the objective
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    finished = studies.finished_trials(study)
    assert 3 <= finished < 8
    time.sleep(2.5)  # past the grace period: the killed trial is stale
    rerun = _worker(storage, 8, 0.0)
    assert rerun.wait(timeout=120) == 0
    trials = open_test_study(storage, 8).get_trials(deepcopy=False)
    states = [trial.state for trial in trials]
    assert states.count(TrialState.COMPLETE) == 8
    assert TrialState.RUNNING not in states  # the killed one was failed
    assert [trial.number for trial in trials] == list(range(len(trials)))
    assert {t.user_attrs["pid"] for t in trials[:finished]} == {worker.pid}
    assert {t.user_attrs["pid"] for t in trials if t.state == TrialState.COMPLETE} == {
        worker.pid,
        rerun.pid,
    }


def test_two_processes_fill_one_study(tmp_path):
    storage = str(tmp_path / "journal.log")  # Optuna's journal file storage
    open_test_study(storage, 10)  # created once, before both start
    workers = [_worker(storage, 10, 0.3) for _ in range(2)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    trials = open_test_study(storage, 10).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) >= 10
    assert {t.user_attrs["pid"] for t in complete} == {w.pid for w in workers}
    assert len({t.number for t in trials}) == len(trials)
