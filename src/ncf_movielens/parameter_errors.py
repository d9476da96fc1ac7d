"""Where a parameter was set, and one message that lists every refused
parameter with its dotted key and that place (a file, or ``--params``): for
the schema, and for the rules that need the train matrix."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import fsspec
import yaml
from kedro.config import MissingConfigException, OmegaConfigLoader
from pydantic import ValidationError

from ncf_movielens.parameters import (
    Parameters,
    conflicts_with_data,
    sampling_memory_bound,
)
from ncf_movielens.study import MODELS


class ParameterError(ValueError):
    """Parameters that the schema refuses; raised before any node runs."""


#: Where a parameter came from, given its key path; see ``parameter_sources``.
SourceOf = Callable[[tuple[str, ...]], str]


def validate_parameters(
    params: Mapping[str, Any], source_of: SourceOf | None = None
) -> Parameters:
    """``params`` as a ``Parameters``, or ``ParameterError`` listing every problem
    with its dotted key and, through ``source_of``, where that key was set."""
    try:
        return Parameters.model_validate(dict(params))
    except ValidationError as exc:
        lines = [_describe(error, source_of) for error in exc.errors()]
    raise ParameterError(
        "Invalid parameters, refused before any node runs:\n" + "\n".join(lines)
    )


def check_against_data(
    params: Parameters,
    n_users: int,
    n_items: int,
    max_user_positives: int,
    n_positives: int,
    source_of: SourceOf | None = None,
    memory_bound: int | None = None,
) -> None:
    """``ParameterError`` listing, as ``validate_parameters`` does, every value
    of ``params`` that the train matrix's sizes make wrong
    (``parameters.conflicts_with_data``); ``memory_bound`` defaults to
    ``parameters.sampling_memory_bound()``."""
    conflicts = conflicts_with_data(
        params,
        n_users,
        n_items,
        max_user_positives,
        n_positives,
        memory_bound or sampling_memory_bound(),
    )
    if conflicts:
        lines = [
            _line(loc, f" = {value!r}: {problem}", source_of)
            for loc, value, problem in conflicts
        ]
        raise ParameterError(
            f"Invalid parameters for the train matrix ({n_users:,} users x "
            f"{n_items:,} items), refused before any training:\n" + "\n".join(lines)
        )


#: The environments that are the user's own, exempt from ``check_named_settings``.
USER_ENVS = frozenset({"base", "local"})
#: Options that change where a run writes, not the model it trains.
NOT_SETTINGS = frozenset({"tensorboard_log_dir"})


def environment_parameters(loader: OmegaConfigLoader, env: str) -> dict[str, Any]:
    """The parameters ``env`` alone gives, merged on ``conf/<base>`` as a run
    in it merges them but without the run's ``--params``; ``env`` equal to
    the loader's base environment gives the base parameters alone (Kedro's
    loader then reads no second folder)."""
    env_loader = OmegaConfigLoader(
        conf_source=str(loader.conf_source),
        env=env,
        base_env=loader.base_env,
        default_run_env=loader.default_run_env,
        config_patterns=loader.config_patterns,
        merge_strategy=loader.merge_strategy,
        custom_resolvers=getattr(loader, "_custom_resolvers", None),
    )
    try:
        return env_loader["parameters"]
    except MissingConfigException:
        return {}


def check_named_settings(
    env: str,
    base: Mapping[str, Any],
    in_env: Mapping[str, Any],
    run: Mapping[str, Any] | None = None,
    source_of: SourceOf | None = None,
) -> None:
    """``ParameterError`` when the named environment ``env`` (``conf/<env>``)
    changes an option of a model (``in_env``, its parameters merged on
    ``base``, against ``base``, the base parameters alone) and leaves that
    model's ``settings`` null: every output would label it as if it had the
    base settings. The message names the environment, each such model and
    its first changed key, and asks for ``<model>: settings: <name>`` in
    ``conf/<env>``; the model's label then says ``"<label>, <name> settings"``.

    Exempt: ``base`` and ``local`` (``USER_ENVS``), the user's own overrides,
    and ``--params``; the run's MLflow record holds every parameter of those
    runs. ``settings`` is read from ``run`` (the run's parameters, ``--params``
    included) when given, else from ``in_env``. ``tensorboard_log_dir``
    (``NOT_SETTINGS``) is where logs go, not a setting of the model."""
    if env in USER_ENVS:
        return
    run = in_env if run is None else run
    lines = []
    for model in MODELS:
        if not model.named_settings or model.name not in in_env:
            continue
        if (run.get(model.name) or {}).get("settings") is not None:
            continue
        changed = _first_change(base.get(model.name), in_env[model.name], (model.name,))
        if changed is None:
            continue
        key, then, now = changed
        where = f" ({source_of(key)})" if source_of else ""
        lines.append(
            f"  - {model.name}: {'.'.join(key)} = {now!r} instead of base's "
            f"{then!r}{where}; "
            f"add `{model.name}: settings: <name>` (e.g. `settings: {env}`) to "
            f"a parameters file in conf/{env}, so that every output labels the "
            f'model "{model.label}, <name> settings"'
        )
    if lines:
        raise ParameterError(
            f"Environment {env!r} changes the options of models without naming "
            "their settings, refused before any node runs:\n" + "\n".join(lines)
        )


def _first_change(
    base: Any, changed: Any, key: tuple[str, ...]
) -> tuple[tuple[str, ...], Any, Any] | None:
    """(key path, base value, changed value) of the first option, in the
    environment's order, where ``changed`` differs from ``base``; lists
    compare whole. ``settings`` and ``NOT_SETTINGS`` are not options."""
    if isinstance(base, Mapping) and isinstance(changed, Mapping):
        for part in [*changed, *(part for part in base if part not in changed)]:
            if part == "settings" and len(key) == 1 or part in NOT_SETTINGS:
                continue
            found = _first_change(
                base.get(part, "(unset)"), changed.get(part, "(unset)"), (*key, part)
            )
            if found:
                return found
        return None
    return None if base == changed else (key, base, changed)


def _describe(error: Mapping[str, Any], source_of: SourceOf | None) -> str:
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if "key" in ctx:  # a cross-field rule names the key it refuses
        loc += tuple(ctx["key"].split("."))
    kind = error["type"]
    if kind == "extra_forbidden":
        problem = f" = {error['input']!r}: unknown key"
    elif kind == "missing":
        problem = ": missing key"
    else:
        shown = "" if "key" in ctx else f" = {error['input']!r}"
        problem = f"{shown}: {error['msg'].removeprefix('Value error, ')}"
    return _line(loc, problem, source_of)


def _line(loc: tuple[str | int, ...], problem: str, source_of: SourceOf | None) -> str:
    """One refused value: its dotted key, ``problem`` and where it was set."""
    # List and tuple positions show as key[i].
    parts = tuple(f"[{part}]" if isinstance(part, int) else part for part in loc)
    key = ".".join(parts).replace(".[", "[") or "(top level)"
    where = f" ({source_of(parts)})" if source_of and parts else ""
    return f"  - {key}{problem}{where}"


def parameter_sources(
    conf_source: str | Path,
    envs: Iterable[str],
    patterns: Iterable[str],
    runtime_params: Mapping[str, Any] | None = None,
    relative_to: Path | None = None,
) -> SourceOf:
    """Name where a key path was set: the command line (``--params``) when the
    runtime parameters hold it, else the last parameters file, in ``envs``
    order (base, then the run environment), that defines its top-level key."""
    patterns, envs = list(patterns), list(envs)
    runtime_params = runtime_params or {}
    files_of = {
        env: _parameter_files(Path(conf_source) / env, patterns) for env in envs
    }
    loaded = [
        (path, yaml.safe_load(path.read_text()) or {})
        for env in envs
        for path in files_of[env]
    ]

    def source_of(loc: tuple[str, ...]) -> str:
        if _holds(runtime_params, loc):
            return "from the command line, --params"
        # The last file that sets this very key, else the last one that sets
        # its group (parameters merge key by key across environments).
        for depth in (len(loc), 1):
            for path, content in reversed(loaded):
                if _holds(content, loc[:depth]):
                    return f"in {_shorter(path, relative_to)}"
        return (
            f"no parameters file in {_shorter(Path(conf_source), relative_to)} sets it"
        )

    return source_of


def _parameter_files(env_dir: Path, patterns: list[str]) -> list[Path]:
    """The files Kedro's loader reads in ``env_dir``: its fsspec glob, where
    ``parameters*/**`` also matches the files in ``parameters/`` (``Path.glob``
    matches only folders with it before Python 3.13), hidden ones left out."""
    env_dir = env_dir.absolute()  # as fsspec answers
    glob = fsspec.filesystem("file").glob
    found = {
        Path(path)
        for pattern in patterns
        for path in glob(f"{env_dir.as_posix()}/{pattern}")
    }
    return sorted(
        path
        for path in found
        if path.is_file()
        and path.suffix in (".yml", ".yaml", ".json")
        and not any(part.startswith(".") for part in path.relative_to(env_dir).parts)
    )


def _holds(runtime_params: Mapping[str, Any], loc: tuple[str, ...]) -> bool:
    """Whether the runtime parameters set the value at ``loc``."""
    node: Any = runtime_params
    for part in loc:
        if not isinstance(node, Mapping):
            return True  # a list or value set at runtime holds the rest
        if part not in node:
            return False
        node = node[part]
    return True


def _shorter(path: Path, base: Path | None) -> Path:
    # The files are absolute (fsspec), the conf source as it was given.
    path = path.absolute()
    base = base.absolute() if base else None
    return path.relative_to(base) if base and path.is_relative_to(base) else path
