"""The user's own code, named in a campaign: ``./my_model.py:train`` or ``my_package.models:train``.

A reference names a function by where it lives. A *file* reference (a path ending in ``.py``,
relative to the campaign file) is imported the way ``python my_model.py`` would see it: the
file's folder goes first on ``sys.path`` and the file is imported by its stem, so the files
beside it import as they would in the user's own scripts. A *module* reference is imported by
its dotted name from wherever Python finds it. Importing runs the module's code: a campaign
file that names code runs that code.

The standard library's ``importlib`` does the work; this module only words the errors a new
user meets (no such file, a module that fails to import, no such function) so that they name
the campaign field, the value and what is allowed.

Example:
    >>> ref = FunctionRef.parse("./my_model.py:train", base_dir="/home/me/project")  # doctest: +SKIP
    >>> ref.module, ref.function, ref.root, ref.name  # doctest: +SKIP
    ('my_model', 'train', '/home/me/project', 'my_model:train')
    >>> FunctionRef.parse("my_package.models:train").as_text()
    'my_package.models:train'
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ConfigError


def is_function_ref(text: object) -> bool:
    """Whether ``text`` names a function (``module:function`` or ``path.py:function``) rather
    than a bundled name."""
    return isinstance(text, str) and ":" in text


@dataclass(frozen=True)
class FunctionRef:
    """A function in the user's code: ``module`` (dotted), ``function`` (an attribute path in
    it) and ``root``, the folder to put on ``sys.path`` first (``None``: importable as is)."""

    module: str
    function: str
    root: str | None = None

    @property
    def name(self) -> str:
        """``module:function``: what MLflow, the progress table and the report show."""
        return f"{self.module}:{self.function}"

    def folder(self) -> str | None:
        """The folder this reference is imported from: a file's folder, or where its module
        was found (after it was imported); ``None`` for ``__main__`` or a module without one."""
        return self.root or module_root(self.module)

    def as_text(self) -> str:
        """The reference as a campaign file would hold it, with a file's path made absolute
        (what a resume from another folder needs)."""
        if self.root is None or "." in self.module:  # a module found on sys.path by its name
            return self.name
        return f"{Path(self.root, self.module).with_suffix('.py')}:{self.function}"

    @classmethod
    def parse(cls, text: str, base_dir: str | os.PathLike[str] | None = None,
              field: str = "trainable") -> FunctionRef:
        """Reads ``path.py:function`` (relative to ``base_dir``, default the working directory)
        or ``module:function``. Checks the form only; :meth:`load` imports.

        Raises:
            ConfigError: not of either form, or a file that does not exist.
        """
        where, _, function = str(text).rpartition(":")
        if not where or not function or not all(part.isidentifier() for part in function.split(".")):
            raise ConfigError(
                f"{field}: {text!r} is not a function reference; write path/to/file.py:function "
                "or package.module:function (or a bundled name: sweepforge trainables)",
                field=field,
            )
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where).expanduser()
            if not path.is_absolute():
                path = Path(base_dir or os.getcwd()) / path
            path = path.resolve()
            if not path.is_file():
                raise ConfigError(f"{field}: file {str(path)!r} (from {text!r}) does not exist",
                                  field=field)
            if path.suffix != ".py" or not path.stem.isidentifier():
                raise ConfigError(
                    f"{field}: {str(path)!r} must be a Python file whose name is a valid module "
                    "name (letters, digits and _, ending in .py)", field=field)
            return cls(path.stem, function, str(path.parent))
        if not all(part.isidentifier() for part in where.split(".")):
            raise ConfigError(f"{field}: {where!r} in {text!r} is not a module name", field=field)
        return cls(where, function)

    def load(self, field: str = "trainable") -> Callable[..., Any]:
        """Imports the module (its folder first on ``sys.path`` for a file) and returns the
        function.

        Raises:
            ConfigError: the module fails to import (its traceback in the message), or has no
                such callable.
        """
        file = Path(self.root, f"{self.module}.py") if self.root and "." not in self.module else None
        if file is not None:  # its folder first, even when it is on sys.path already
            if self.root in sys.path:
                sys.path.remove(self.root)
            sys.path.insert(0, self.root)
            loaded = sys.modules.get(self.module)
            if loaded is not None and not _is_file(loaded, file):
                if self.module not in _FILES:  # a module of Python's, a package's, the user's own
                    raise ConfigError(_clash(field, file, loaded), field=field)
                del sys.modules[self.module]  # another folder's file of that name: this one now
        elif self.root is not None and self.root not in sys.path:
            sys.path.insert(0, self.root)
        try:
            module = importlib.import_module(self.module)
        except Exception as err:  # noqa: BLE001  (the user's module: any error, shown whole)
            if isinstance(err, ModuleNotFoundError) and err.name and (
                    self.module == err.name or self.module.startswith(f"{err.name}.")):
                raise ConfigError(
                    f"{field}: no module named {self.module!r} (from {self.as_text()!r}); is it "
                    "installed, or did you mean a file (./path/to/file.py:function)?", field=field,
                ) from None
            shown = "".join(traceback.format_exception(err)).rstrip()
            raise ConfigError(f"{field}: importing {self.module!r} failed:\n{shown}",
                              field=field) from None
        if file is not None:
            if not _is_file(module, file):  # e.g. a module built into Python, found first
                raise ConfigError(_clash(field, file, module), field=field)
            _FILES[self.module] = file
        found: Any = module
        for part in self.function.split("."):
            found = getattr(found, part, None)
            if found is None:
                public = sorted(n for n, v in vars(module).items()
                                if callable(v) and not n.startswith("_")
                                and getattr(v, "__module__", None) == module.__name__)
                raise ConfigError(
                    f"{field}: module {self.module!r} has no function {self.function!r}; its "
                    f"functions: {', '.join(public) or 'none'}", field=field)
        if not callable(found):
            raise ConfigError(f"{field}: {self.name} is a {type(found).__name__}, not a function",
                              field=field)
        return found


_FILES: dict[str, Path] = {}
"""The user's files :meth:`FunctionRef.load` imported, by module name. Another file of the same
name (another project's ``my_model.py``, in a notebook or a reused Ray worker) replaces one of
these; a module imported otherwise (the standard library's ``json``) is never replaced."""


def _is_file(module: Any, file: Path) -> bool:
    found = getattr(module, "__file__", None)
    return found is not None and Path(found).resolve() == file.resolve()


def _clash(field: str, file: Path, module: Any) -> str:
    where = getattr(module, "__file__", None) or "Python itself"
    return (f"{field}: {str(file)!r} cannot be imported as {module.__name__!r}: a module of that "
            f"name is already imported from {where}; rename {file.name} (its name is the "
            "module's)")


def ref_of_callable(fn: Callable[..., Any]) -> FunctionRef:
    """The reference of a function given from Python (``Campaign.from_dict``): its module and
    qualified name, with the folder its module was imported from."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ConfigError(
            f"trainable: {fn!r} has no importable name (a lambda or a function defined inside "
            "another); define it at the top level of a module", field="trainable")
    return FunctionRef(module, qualname, module_root(module))


def module_root(module: str) -> str | None:
    """The folder to put on ``sys.path`` to import ``module`` as this process did (``None`` for
    ``__main__`` or a module without a file). A Ray worker started elsewhere can then import a
    function defined in the user's own files, e.g. ``benchmarks/lcbench.py``."""
    found = sys.modules.get(module)
    path = getattr(found, "__file__", None)
    if module == "__main__" or not path:
        return None
    file = Path(path).resolve()
    parts = module.split(".")
    tail = Path(*parts, "__init__.py") if file.name == "__init__.py" else Path(*parts).with_suffix(file.suffix)
    root = file.parents[len(tail.parts) - 1]
    # an installed package mapped from other folders (package-dir) has no such root
    return str(root) if root / tail == file else None


@dataclass(frozen=True)
class CodeFolder:
    """The folder of a user's function that Ray workers on other machines need, and the
    reference (``module:function``) they load it by once that folder is theirs."""

    folder: str
    reference: str


def code_folder(text: str) -> CodeFolder | None:
    """What a Ray cluster must be sent so its workers can import the function ``text`` names:
    a file's folder, or the folder a module was imported from (after the master imported it).
    ``None`` for a bundled name and for code installed in Python's environment (site-packages),
    which every node has when it has sweepforge."""
    if not is_function_ref(text):
        return None
    ref = FunctionRef.parse(text)
    root = ref.folder()
    if root is None or installed_folder(Path(root)):
        return None
    return CodeFolder(root, ref.name)


def installed_folder(folder: Path) -> bool:
    """Whether ``folder`` is (in) one of the environment's package folders."""
    folder, paths = folder.resolve(), sysconfig.get_paths()
    places = {Path(paths[key]).resolve() for key in ("purelib", "platlib", "stdlib", "platstdlib")}
    return any(place == folder or place in folder.parents for place in places)
