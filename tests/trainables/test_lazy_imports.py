"""Importing sweepforge.trainables is cheap; a family's module loads when it is first named.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from sweepforge import trainables
from sweepforge.trainables import datasets, registry


def _modules_after(code: str) -> set[str]:
    """Top-level packages imported by a fresh interpreter that runs ``code``."""
    script = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_package_and_its_registries_import_neither_torch_nor_sklearn():
    loaded = _modules_after(
        "from sweepforge.trainables import ConfigError, get_trainable, list_datasets\n"
        "from sweepforge.trainables.datasets import dataset_task\n"
        "assert dataset_task('iris') == 'classification'\n"
        "assert dataset_task('mnist') == 'classification'"  # registered by another module
    )
    assert not loaded & {"torch", "sklearn", "pandas", "mlxtend", "plotnine"}


def test_naming_a_family_imports_it_and_torch_but_not_the_other_families():
    script = (
        "from sweepforge.trainables import get_trainable\n"
        "get_trainable('mlp')\n"
        "print(sorted(m for m in sys.modules if m.startswith('sweepforge.trainables.')))"
    )
    out = subprocess.run([sys.executable, "-c", "import sys\n" + script],
                         capture_output=True, text=True, check=True).stdout
    assert "'sweepforge.trainables.mlp'" in out
    for other in ("cnn", "unet", "word2vec", "entity_embedding", "tables"):
        assert f"'sweepforge.trainables.{other}'" not in out


def test_the_catalogs_name_exactly_what_the_modules_register():
    for module in set(registry._BUILTIN_MODULES.values()) | set(datasets._BUILTIN_MODULES.values()):
        importlib.import_module(f"sweepforge.trainables.{module}")
    for name, module in registry._BUILTIN_MODULES.items():
        assert registry._REGISTRY[name].train_fn.__module__ == f"sweepforge.trainables.{module}"
    bundled = {n for n, spec in registry._REGISTRY.items()
               if spec.train_fn.__module__.startswith("sweepforge.trainables.")}
    assert bundled == set(registry._BUILTIN_MODULES)
    for name in datasets._BUILTIN_MODULES:
        assert name in datasets._REGISTRY
    assert set(trainables.list_datasets()) >= set(datasets._BUILTIN_MODULES)


def test_every_exported_name_resolves():
    for name in trainables.__all__:
        assert getattr(trainables, name) is not None
    assert set(trainables.__all__) <= set(dir(trainables))
