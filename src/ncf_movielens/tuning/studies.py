"""Optuna studies in a real storage: opened or resumed by name (the name holds
the fingerprint of their data and settings, so runs under other settings
never mix), run to a budget of finished trials, and summarised.

The storage is an RDB URL (SQLite by default, PostgreSQL or MySQL to share a
study across machines) or the path of an Optuna journal file. A killed run's
study resumes: its finished trials stay, the numbers continue, and its
budget counts only finished trials. With an RDB storage a trial whose
process died is marked failed once its heartbeat is older than the grace
period.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import scipy.sparse as sp
from optuna.trial import TrialState

from ncf_movielens.parameters import PrunerOptions, StudyOptions
from ncf_movielens.tuning.storage import is_rdb_url

logger = logging.getLogger(__name__)

# Optuna's messages go through the project's logging (conf/logging.yml), not
# its own handler; its line per trial repeats the project's, so only its
# warnings show.
optuna.logging.disable_default_handler()
optuna.logging.enable_propagation()
optuna.logging.set_verbosity(optuna.logging.WARNING)

#: The states a trial's budget counts: a pruned trial is finished too.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def open_storage(options: StudyOptions) -> optuna.storages.BaseStorage:
    """The RDB storage (with heartbeats) or the journal file storage."""
    storage = options.storage
    if is_rdb_url(storage):
        if storage.startswith("sqlite:///"):
            Path(storage.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        with warnings.catch_warnings():
            # Heartbeats have been "experimental" since Optuna 2.9; say it once
            # in the README rather than at every run.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=options.heartbeat_interval,
                grace_period=options.grace_period,
            )
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(storage)
    )


def fingerprint(**parts: Any) -> str:
    """A SHA-256 over matrices (their shape and nonzeros) and JSON-ready
    values: the data, space and fixed settings a study's trials are
    comparable under."""
    digest = hashlib.sha256()
    for name in sorted(parts):
        value = parts[name]
        digest.update(name.encode())
        if sp.issparse(value):
            matrix = sp.csr_matrix(value)
            matrix.sort_indices()
            digest.update(np.asarray(matrix.shape, np.int64).tobytes())
            digest.update(matrix.indptr.astype(np.int64).tobytes())
            digest.update(matrix.indices.astype(np.int64).tobytes())
        else:
            digest.update(json.dumps(value, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def make_pruner(options: PrunerOptions) -> optuna.pruners.BasePruner:
    if options.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=options.n_startup_trials,
            n_warmup_steps=options.n_warmup_steps,
        )
    if options.type == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def study_name(options: StudyOptions, model: str, digest: str) -> str:
    """``<name_prefix>-<model>-<first 8 hex of the fingerprint>``: a study is
    only ever filled under one fit/validation split, space and set of fixed
    values, so a changed setting starts its own study instead of mixing."""
    return f"{options.name_prefix}-{model}-{digest[:8]}"


def open_study(
    options: StudyOptions,
    model: str,
    pruner: PrunerOptions,
    described: Mapping[str, Any],
    digest: str,
) -> optuna.Study:
    """Create ``model``'s study for this fingerprint, or load it to resume;
    a new study records its fingerprint and objective as user attributes
    (the dashboard shows them)."""
    study = optuna.create_study(
        storage=open_storage(options),
        study_name=study_name(options, model, digest),
        direction="maximize",
        load_if_exists=True,
        # multivariate: the values that work together (learning rate and
        # negatives, say) are modelled together, not one at a time.
        sampler=optuna.samplers.TPESampler(
            seed=options.sampler_seed, multivariate=True
        ),
        pruner=make_pruner(pruner),
    )
    if "fingerprint" not in study.user_attrs:
        study.set_user_attr("fingerprint", digest)
        study.set_user_attr("objective", str(described.get("objective")))
    return study


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def optimize(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    options: StudyOptions,
    enqueue: Mapping[str, Any] | None = None,
) -> float:
    """Run trials until the study has ``n_trials`` finished ones (counted
    across every process and earlier run) or ``timeout`` seconds pass;
    returns this run's seconds. ``enqueue`` is trial 0 of a new study."""
    if enqueue and not study.trials:
        study.enqueue_trial(dict(enqueue), skip_if_exists=True)
    done = finished_trials(study)
    left = options.n_trials - done
    start = time.perf_counter()
    if left <= 0:
        logger.info(
            "Study %s already has %d finished trials (budget %d): nothing to run",
            study.study_name,
            done,
            options.n_trials,
        )
        return 0.0
    logger.info(
        "Study %s: %d finished trials, running up to %d more%s",
        study.study_name,
        done,
        left,
        f" within {options.timeout:g} s" if options.timeout else "",
    )
    study.optimize(
        objective,
        timeout=options.timeout,
        callbacks=[optuna.study.MaxTrialsCallback(options.n_trials, states=FINISHED)],
        catch=(),
        gc_after_trial=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - start


def summary(study: optuna.Study, seconds: float) -> dict[str, Any]:
    """The study's counts, best trial and times, JSON-ready."""
    trials = study.get_trials(deepcopy=False)
    counts = {
        state.name.lower(): sum(trial.state == state for trial in trials)
        for state in TrialState
    }
    durations = [
        trial.duration.total_seconds() for trial in trials if trial.duration is not None
    ]
    best = study.best_trial if counts["complete"] else None
    return {
        "study": study.study_name,
        "trials": {key: value for key, value in counts.items() if value},
        "best_trial": best.number if best else None,
        "best_value": best.value if best else math.nan,
        "best_params": best.params if best else {},
        "best_user_attrs": best.user_attrs if best else {},
        "seconds_this_run": round(seconds, 2),
        "seconds_all_trials": round(sum(durations), 2),
    }
