"""``python -m ncf_movielens`` and the ``ncf-movielens`` script: the project's
``kedro run`` (``ncf_movielens.cli``), with the same options and refusals."""

import sys
from pathlib import Path
from typing import Any

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args: Any, **kwargs: Any) -> Any:
    package_name = Path(__file__).parent.name
    configure_project(package_name)

    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive

    run = find_run_command(package_name)  # ncf_movielens.cli.run
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
