"""A process that fills one study of the project's kind (``open_study`` and
``optimize``), for the tests that kill it or run two at once:

    python -m tests.tuning.study_worker <storage> <n_trials> <seconds per trial>
"""

from __future__ import annotations

import os
import sys
import time

import optuna

from ncf_movielens.parameters import PrunerOptions, StudyOptions
from ncf_movielens.tuning import studies

optuna.logging.set_verbosity(optuna.logging.WARNING)


def options(storage: str, n_trials: int) -> StudyOptions:
    return StudyOptions(
        storage=storage,
        name_prefix="test",
        n_trials=n_trials,
        timeout=None,
        sampler_seed=0,
        metric="ndcg",
        k=10,
        enqueue_defaults=False,
        heartbeat_interval=1,
        grace_period=2,
    )


def open_test_study(storage: str, n_trials: int) -> optuna.Study:
    pruner = PrunerOptions(type="none", n_startup_trials=0, n_warmup_steps=0)
    return studies.open_study(
        options(storage, n_trials), "toy", pruner, {"toy": 1}, "0" * 64
    )


def main(storage: str, n_trials: int, seconds: float) -> None:
    study = open_test_study(storage, n_trials)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        trial.set_user_attr("pid", os.getpid())
        time.sleep(seconds)
        return -((x - 2) ** 2)

    studies.optimize(study, objective, options(storage, n_trials))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
