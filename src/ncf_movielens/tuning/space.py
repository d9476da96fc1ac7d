"""Search spaces from ``conf/base/parameters_tuning.yml`` as Optuna
suggestions, and the options a trial trains with.

A space names fields of a model's option groups (``model_options``,
``training_options``). Categorical choices that are lists (NCF's
``dense_layers``) are suggested as their JSON text, which Optuna can store and
the dashboard shows, and turned back into lists here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna
from pydantic import BaseModel

from ncf_movielens.parameters import (
    CategoricalDimension,
    Dimension,
    FloatDimension,
    IntDimension,
    option_field_errors,
)

Space = Mapping[str, Mapping[str, Dimension]]
Changes = dict[str, dict[str, Any]]


class SpaceError(ValueError):
    """A search space that names a field its model does not have."""


def _encode(choice: Any) -> Any:
    return json.dumps(choice) if isinstance(choice, list | dict) else choice


def _decode(value: Any, dimension: CategoricalDimension) -> Any:
    for choice in dimension.choices:
        if _encode(choice) == value:
            return choice
    return value


def check_space(space: Space, options: Mapping[str, BaseModel], model: str) -> None:
    """Refuse a space that names a group or a field ``options`` lacks, or the
    same field in two groups (a trial parameter is named by its field)."""
    kinds = {group: type(value) for group, value in options.items()}
    errors = option_field_errors(model, space, kinds)
    if errors:
        key, problem = errors[0]
        raise SpaceError(f"tuning.{model}.space.{key}: {problem}")
    seen: dict[str, str] = {}
    for group, dimensions in space.items():
        for field in dimensions:
            if field in seen:
                raise SpaceError(
                    f"tuning.{model}.space: {field!r} is in both {seen[field]} "
                    f"and {group}"
                )
            seen[field] = group


def suggest(trial: optuna.Trial, space: Space) -> Changes:
    """One trial's values for every dimension of ``space``, by group."""
    changes: Changes = {}
    for group, dimensions in space.items():
        for field, dimension in dimensions.items():
            if isinstance(dimension, IntDimension):
                value = trial.suggest_int(
                    field, dimension.low, dimension.high, log=dimension.log
                )
            elif isinstance(dimension, FloatDimension):
                value = trial.suggest_float(
                    field, dimension.low, dimension.high, log=dimension.log
                )
            else:
                encoded = [_encode(choice) for choice in dimension.choices]
                value = _decode(trial.suggest_categorical(field, encoded), dimension)
            changes.setdefault(group, {})[field] = value
    return changes


def changes_of(params: Mapping[str, Any], space: Space) -> Changes:
    """A finished trial's ``params`` as changes by group (lists decoded)."""
    changes: Changes = {}
    for group, dimensions in space.items():
        for field, dimension in dimensions.items():
            if field not in params:
                continue
            value = params[field]
            if isinstance(dimension, CategoricalDimension):
                value = _decode(value, dimension)
            changes.setdefault(group, {})[field] = value
    return changes


def in_space(options: Mapping[str, BaseModel], space: Space) -> dict[str, Any]:
    """The trial parameters that ``options`` (a model's defaults) would be,
    for the dimensions whose domain holds them: trial 0 of a new study."""
    params: dict[str, Any] = {}
    for group, dimensions in space.items():
        for field, dimension in dimensions.items():
            value = getattr(options[group], field)
            if isinstance(value, list) and not isinstance(
                dimension, CategoricalDimension
            ):
                # One value for a list field (NCF's reg_layers, one per layer).
                if len(set(value)) != 1:
                    continue
                value = value[0]
            if isinstance(dimension, CategoricalDimension):
                if value not in dimension.choices:
                    continue
                value = _encode(value)
            elif not dimension.low <= value <= dimension.high:
                continue
            params[field] = value
    return params


def apply(
    options: Mapping[str, BaseModel], *changes: Mapping[str, Mapping[str, Any]]
) -> dict[str, BaseModel]:
    """``options`` with each of ``changes`` applied in turn, validated again
    by the groups' own schemas (so a change that breaks a rule is refused)."""
    updated = {group: value.model_dump() for group, value in options.items()}
    for change in changes:
        for group, fields in change.items():
            updated[group].update(fields)
    return {
        group: type(options[group]).model_validate(values)
        for group, values in updated.items()
    }
