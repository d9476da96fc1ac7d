"""The Optuna storage setting, read without importing Optuna (the project's
hooks resolve it on every run): an RDB URL or a journal file's path."""

from __future__ import annotations

from pathlib import Path


def is_rdb_url(storage: str) -> bool:
    return "://" in storage


def resolve_storage(storage: str, project: Path) -> str:
    """``storage`` with a relative SQLite or journal path made absolute from
    ``project``, as the catalog's paths are (``sqlite:///data/x.db`` is
    relative, ``sqlite:////abs/x.db`` absolute)."""
    if storage.startswith("sqlite:///"):
        path = storage.removeprefix("sqlite:///")
        if path and not Path(path).is_absolute() and path != ":memory:":
            return f"sqlite:///{project / path}"
        return storage
    if is_rdb_url(storage):
        return storage
    return storage if Path(storage).is_absolute() else str(project / storage)


def shown_storage(storage: str) -> str:
    """``storage`` without a password, for logs and saved summaries."""
    if "://" not in storage or "@" not in storage:
        return storage
    scheme, rest = storage.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
