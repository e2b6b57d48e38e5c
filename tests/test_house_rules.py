"""The rules of the house, checked on every CI run (the README's test command runs pytest):

* one-way imports between the four folders and between the rooms of ``search``, as the
  contracts in ``pyproject.toml`` say (``lint-imports``, import-linter);
* ``ruff check`` at the version ``pyproject.toml`` pins, with the rules it selects;
* every ``sweepforge.*`` MLflow name is spelled in ``search/schema.py`` only;
* ``search/`` keeps few files at its top level: the rest lives in rooms named after their job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is in the test extras (pip install -e '.[test]').")
    return str(found)


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def test_imports_keep_the_contracts():
    result = run(tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_broken_contract_fails_the_check(tmp_path):
    """lint-imports really reads the code: a contract the code breaks today (search's Ray Tune
    room uses its strategies) is reported, so a passing check means something."""
    config = tmp_path / "broken.ini"
    config.write_text(
        "[importlinter]\n"
        "root_packages =\n    sweepforge.search\n"
        "[importlinter:contract:tune-without-strategies]\n"
        "name = tune must not import strategies (false on purpose)\n"
        "type = forbidden\n"
        "source_modules =\n    sweepforge.search.tune\n"
        "forbidden_modules =\n    sweepforge.search.strategies\n"
    )
    result = run(tool("lint-imports"), "--no-cache", "--config", str(config))
    assert result.returncode != 0 and "BROKEN" in result.stdout.upper(), result.stdout


def test_ruff_passes_at_the_pinned_version():
    from importlib.metadata import version

    pinned = re.search(r'"ruff==([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert version("ruff") == pinned, f"ruff {version('ruff')} is installed; pyproject pins {pinned}"
    result = run(tool("ruff"), "check", ".", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


_MODULE = re.compile(r"sweepforge\.(search|trainables|spaces|dashboards)\b")
_NAME_LITERAL = re.compile(r"""["'`](?:tags\.|params\.|metrics\.)?sweepforge\.[a-z_]+""")


def test_no_sweepforge_name_is_spelled_outside_the_schema():
    offenders = []
    for folder in ("search", "dashboards"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "search" / "schema.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                for match in _NAME_LITERAL.finditer(code):
                    text = match.group(0)
                    if match.group(0)[0] == "`" or _MODULE.search(text) or "getLogger(" in code:
                        continue  # a docstring's ``name``, a module path or a logger's name
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "import these names from search/schema.py:\n" + "\n".join(offenders)


def test_search_keeps_few_files_at_its_top_level():
    top = sorted(p.name for p in (ROOT / "search").glob("*.py"))
    assert len(top) <= 8, f"search/ has {len(top)} modules at its top level: {top}"
    rooms = sorted(p.name for p in (ROOT / "search").iterdir() if (p / "__init__.py").is_file())
    assert rooms == ["state", "strategies", "tracking", "tune"]
