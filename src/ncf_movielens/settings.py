"""Project settings: the project's hooks and how its configuration merges; every
other setting is Kedro's default. See
https://docs.kedro.org/en/stable/configure/configuration_basics/#configuration"""

from ncf_movielens.hooks import (
    ComparisonReport,
    ParameterChecks,
    ProjectPaths,
    RunIntegrity,
)

# Instantiated project hooks, executed in Last-In-First-Out (LIFO) order.
# RunIntegrity is last, so it runs first: the lock is taken before anything else.
HOOKS = (
    ParameterChecks(),
    ComparisonReport(),
    ProjectPaths(),
    RunIntegrity(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (conf/notebook, conf/local) overrides single parameters, not
    # whole groups, and so does a nested --params on top of it.
    "merge_strategy": {"parameters": "soft"},
}
