"""The pure modules import no I/O library, directly or through other csms modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "csms"

FORBIDDEN = frozenset(
    {"asyncio", "sqlalchemy", "websockets", "structlog", "aiosqlite", "asyncpg", "socket"}
)

_PURE_MODULES = ["handlers/commands/v16.py", "handlers/commands/v201.py",
                 "handlers/commands/auth_v16.py", "handlers/commands/auth_v201.py",
                 "handlers/commands/certs.py", "security/ca.py", "security/ocsp.py"]
PURE_PACKAGES = ("domain", "smartcharging", "safety", "tariffs", "city")
PURE_FILES = sorted(
    [path for package in PURE_PACKAGES for path in (PACKAGE / package).glob("*.py")]
    + [PACKAGE / "handlers" / name for name in
       ("translate/v16.py", "translate/v201.py", "ocppj.py", "timefmt.py")]
    + [PACKAGE / name for name in _PURE_MODULES]  # a moved one fails the check below
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_path(name: str) -> Path | None:
    """The source file of a csms module or package, if there is one."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(source: str, name: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the module ``name``) imports, dynamic imports included."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            # ``from pkg import mod`` imports the module pkg.mod when there is one.
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
                isinstance(func, ast.Attribute) and func.attr == "import_module"
            )
            if dynamic:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                else:
                    found.add("<dynamic import>")
    return found


def forbidden_in(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in FORBIDDEN or m == "<dynamic import>"}


def direct_imports(path: Path) -> set[str]:
    return imports_of(path.read_text(encoding="utf-8"), module_name(path),
                      is_package=path.name == "__init__.py")


def loaded_with(path: Path) -> dict[str, set[str]]:
    """Every csms module that importing ``path`` executes, with its direct imports.

    Follows ``csms.*`` imports and the ``__init__`` of every enclosing package.
    """
    seen: dict[str, set[str]] = {}
    pending = [module_name(path)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        source = module_path(name)
        if source is None:  # ``from pkg import attribute``: not a module
            continue
        seen[name] = direct_imports(source)
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        pending.extend(m for m in seen[name] if m.split(".")[0] == "csms")
    return seen


class TestChecker:
    def test_finds_every_kind_of_import(self) -> None:
        """The checker sees plain, from, submodule, relative and dynamic imports."""
        source = (
            "import asyncio\n"
            "import socket as s\n"
            "from sqlalchemy.ext.asyncio import AsyncEngine\n"
            "from . import sibling\n"
            "from ..store import writer\n"
            "import importlib\n"
            "m = importlib.import_module('websockets')\n"
            "n = __import__(name)\n"
            "def f() -> None:\n"
            "    import structlog\n"
        )
        found = imports_of(source, "csms.handlers.example")
        assert {"asyncio", "socket", "sqlalchemy", "websockets", "structlog",
                "<dynamic import>"} == {m.split(".")[0] for m in forbidden_in(found)}
        assert "csms.handlers.sibling" in found
        assert "csms.store.writer" in found

    def test_clean_source_passes(self) -> None:
        """Standard-library and allowed imports are not flagged."""
        source = (
            "from __future__ import annotations\n"
            "import json\nimport fastjsonschema\nimport orjson\n"
            "from importlib import resources\nfrom dataclasses import dataclass\n"
        )
        assert set() == forbidden_in(imports_of(source, "csms.handlers.ocppj"))

    def test_module_list_is_complete(self) -> None:
        """The pure set holds the domain package and the four handler modules."""
        names = {module_name(p) for p in PURE_FILES}
        assert {"csms.domain.model", "csms.domain.authorization", "csms.domain.sessions",
                "csms.handlers.translate.v16", "csms.handlers.translate.v201",
                "csms.handlers.ocppj", "csms.handlers.timefmt"} <= names
        assert all(p.is_file() for p in PURE_FILES)


class TestPureModules:
    @pytest.mark.parametrize("path", PURE_FILES, ids=module_name)
    def test_imports_no_io_library(self, path: Path) -> None:
        """The module itself imports none of the I/O libraries."""
        assert set() == forbidden_in(direct_imports(path))

    @pytest.mark.parametrize("path", PURE_FILES, ids=module_name)
    def test_loads_no_io_library_through_csms(self, path: Path) -> None:
        """No csms module that importing this one executes imports an I/O library."""
        offenders = {
            name: sorted(forbidden_in(imports))
            for name, imports in loaded_with(path).items()
            if forbidden_in(imports)
        }
        assert {} == offenders
