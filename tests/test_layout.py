"""The architecture's rules, as tests: pipelines share code through library
modules, never through each other; nodes know nothing of Kedro; saved models
are library classes; every node of the study is named and tagged."""

from __future__ import annotations

import ast
import re
from functools import reduce
from pathlib import Path

import pytest
import scipy.sparse as sp
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pickle import PickleDataset

import ncf_movielens
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.parameters import ReshapeOptions
from ncf_movielens.pipeline_registry import register_pipelines
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.settings import CONFIG_LOADER_ARGS
from ncf_movielens.study import MODELS
from tests.support import (
    PROJECT,
    fast_ncf,
    project_options,
    project_params,
    readme_section,
)

PACKAGE = Path(ncf_movielens.__file__).parent
PIPELINES = PACKAGE / "pipelines"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the code of ``module``) imports, absolute:
    relative imports resolved, and ``from a import b`` counted as ``a`` and
    ``a.b`` (``b`` may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            parts = base if node.level else []
            name = ".".join([*parts, *([node.module] if node.module else [])])
            found |= {name, *(f"{name}.{alias.name}" for alias in node.names)}
    return found


def imports_of(path: Path) -> set[str]:
    return imported_modules(
        path.read_text(), module_name(path), is_package=path.name == "__init__.py"
    )


def other_pipelines(imports: set[str], own: str | None = None) -> set[str]:
    """The imports that reach a pipeline other than ``own``; with no ``own``,
    any import of ``ncf_movielens.pipelines``."""
    reached = set()
    for name in imports:
        parts = name.split(".")
        if parts[:2] != ["ncf_movielens", "pipelines"]:
            continue
        if own is None or (len(parts) > 2 and parts[2] != own):
            reached.add(name)
    return reached


@pytest.mark.parametrize(
    ("source", "reached"),
    [
        ("from ..ncf.nodes import train_model", "ncf_movielens.pipelines.ncf.nodes"),
        ("from ..ncf import nodes", "ncf_movielens.pipelines.ncf.nodes"),
        ("from .. import ncf", "ncf_movielens.pipelines.ncf"),
        ("import ncf_movielens.pipelines.ncf", "ncf_movielens.pipelines.ncf"),
        ("from ncf_movielens.pipelines import ncf", "ncf_movielens.pipelines.ncf"),
        ("from .nodes import measure", None),
        ("from . import nodes", None),
        ("from ncf_movielens.pipelines.evaluation import nodes", None),
        ("from ncf_movielens.models.neumf import NeuMF", None),
    ],
)
def test_the_import_rule_sees_every_form(source, reached):
    """The checker itself, on the import forms a pipeline module could use."""
    imports = imported_modules(source, "ncf_movielens.pipelines.evaluation.nodes")
    found = other_pipelines(imports, "evaluation")
    assert (reached in found) if reached else found == set()


PIPELINE_MODULES = sorted(PIPELINES.glob("*/*.py"))


@pytest.mark.parametrize(
    "path",
    PIPELINE_MODULES,
    ids=[str(p.relative_to(PIPELINES)) for p in PIPELINE_MODULES],
)
def test_no_pipeline_imports_another(path):
    own = path.relative_to(PIPELINES).parts[0]
    assert other_pipelines(imports_of(path), own) == set()


LIBRARY_MODULES = sorted(
    path
    for path in PACKAGE.rglob("*.py")
    if PIPELINES not in path.parents and path.name != "pipeline_registry.py"
)


@pytest.mark.parametrize(
    "path", LIBRARY_MODULES, ids=[str(p.relative_to(PACKAGE)) for p in LIBRARY_MODULES]
)
def test_library_modules_import_no_pipeline(path):
    """hooks.py, the models, the metrics...: only the registry composes pipelines."""
    assert other_pipelines(imports_of(path)) == set()


@pytest.mark.parametrize(
    "path",
    sorted(PIPELINES.glob("*/nodes.py")),
    ids=lambda path: path.parent.name,
)
def test_nodes_know_nothing_of_kedro(path):
    assert not {name for name in imports_of(path) if name.split(".")[0] == "kedro"}


# --- Saved models are library classes ---------------------------------------------


def pickled_outputs() -> dict[str, list[str]]:
    """By model name, its training outputs the catalog pickles."""
    loader = OmegaConfigLoader(str(PROJECT / "conf"), **CONFIG_LOADER_ARGS)
    catalog = DataCatalog.from_config(loader["catalog"])
    pickled = {}
    for model in MODELS:
        outputs = register_pipelines()[model.name].all_outputs()
        pickled[model.name] = sorted(
            name for name in outputs if isinstance(catalog.get(name), PickleDataset)
        )
    return pickled


def test_the_catalog_pickles_the_models_it_should():
    assert pickled_outputs() == {
        "ncf": ["ncf.other_seed_models"],
        "lightfm": ["lightfm.model", "lightfm.other_seed_models"],
        "ials": ["ials.model", "ials.other_seed_models"],
        "most_popular": ["most_popular.model"],
        "ease": ["ease.model"],
    }


@pytest.mark.parametrize("model", [model.name for model in MODELS])
def test_pickled_models_are_classes_of_the_model_library(model, tmp_path):
    """A pickle names its classes' modules: they must be ``ncf_movielens.models``,
    which pipeline renames do not move."""
    outputs = pickled_outputs()[model]
    pipeline = register_pipelines()[model].only_nodes_with_outputs(*outputs)
    params = validate_parameters(
        project_params(
            seeds=2,
            ncf=fast_ncf(epochs=1),
            lightfm={"training_options": {"epochs": 1}},
        )
    )
    train = sp.random(20, 30, density=0.2, format="csr", random_state=0)
    train.data[:] = 1
    table = matrix_to_long(train, project_options(ReshapeOptions, "reshape_options"))
    catalog = DataCatalog(
        {
            "train_matrix": MemoryDataset(train),
            "model_input_table": MemoryDataset(table),
            **{
                name: MemoryDataset(
                    reduce(getattr, name.removeprefix("params:").split("."), params)
                )
                for name in pipeline.inputs()
                if name.startswith("params:")
            },
            **{
                name: PickleDataset(filepath=str(tmp_path / f"{name}.pkl"))
                for name in outputs
            },
        }
    )
    SequentialRunner().run(pipeline, catalog)
    for name in outputs:
        saved = catalog.load(name)
        fitted = list(saved.values()) if name.endswith("other_seed_models") else [saved]
        assert fitted, name  # seeds=2: one extra-seed model
        for instance in fitted:
            assert type(instance).__module__.startswith("ncf_movielens.models."), name


# --- The graph -------------------------------------------------------------------

#: Kedro names an unnamed node ``<function>__<8 hex digits>``.
GENERATED_NAME = re.compile(r"__[0-9a-f]{8}$")


def test_every_node_of_the_study_is_named_and_tagged():
    for node in register_pipelines()["__default__"].nodes:
        assert not GENERATED_NAME.search(node.name), node.name
        assert node.tags, node.name
        if node.namespace:
            assert node.namespace in node.tags, node.name


def test_readme_layout_names_every_module_of_the_package():
    """The README's Layout section and the package tree agree both ways."""
    layout = readme_section("Layout").split("```")[1]
    block = layout.split("src/ncf_movielens/", 1)[1].split("\nnotebooks/", 1)[0]
    package = PROJECT / "src" / "ncf_movielens"
    listed = set(re.findall(r"([a-z_]+(?:\.py|/))", block))
    on_disk = {
        path.name + ("/" if path.is_dir() else "")
        for path in package.iterdir()
        if not path.name.startswith(("_", "."))
        and (path.suffix == ".py" or (path / "__init__.py").is_file())
    }
    assert on_disk <= listed, f"not in the README: {sorted(on_disk - listed)}"
    for name in sorted(listed & {p for p in listed if p.endswith(".py")} - on_disk):
        assert any(package.rglob(name)), f"the README lists {name}, which is gone"
    for pipeline in (package / "pipelines").iterdir():
        if (pipeline / "pipeline.py").is_file():
            assert pipeline.name in block, f"pipeline {pipeline.name} not listed"
