"""Project settings: the project's hooks and how its configuration merges; every
other setting is Kedro's default. See
https://docs.kedro.org/en/stable/configure/configuration_basics/#configuration"""

from ncf_movielens.hooks import (
    ComparisonReport,
    ParameterChecks,
    ProjectPaths,
    RunIntegrity,
)
from ncf_movielens.tracking import RunTracking

# Instantiated project hooks, executed in Last-In-First-Out (LIFO) order.
# RunIntegrity is last, so it runs first: the lock is taken before anything else.
# RunTracking (kedro-mlflow's hook with the study's names and logs) is first, so
# it runs last: a run refused by the checks or the lock opens no MLflow run.
HOOKS = (
    RunTracking(),
    ParameterChecks(),
    ComparisonReport(),
    ProjectPaths(),
    RunIntegrity(),
)

# kedro-mlflow registers its own MlflowHook; RunTracking replaces it (the
# distribution's name, with its underscore).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (conf/notebook, conf/local) overrides single parameters, not
    # whole groups, and so does a nested --params on top of it.
    "merge_strategy": {"parameters": "soft"},
}
