"""No module imports another module's private helper (`from x import _name`, `x._name(...)` on an
imported module): a helper used across modules is public in its module or in its package's surface.
Tests may reach into internals; application code may not."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # wangge/
PUBLIC_UNDERSCORE = {"_meta"}  # Django's documented Model._meta API


def _private_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("wangge")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, f"from {node.module or '.'} import {alias.name}"))
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("wangge"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in PUBLIC_UNDERSCORE
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def _app_files() -> list[Path]:
    return [
        p
        for p in sorted(ROOT.rglob("*.py"))
        if "tests" not in p.parts and "migrations" not in p.parts and p.name != "conftest.py"
    ]


def test_no_private_helper_is_imported_across_modules():
    offences = [
        f"{path.relative_to(ROOT.parent)}:{line}: {what}"
        for path in _app_files()
        for line, what in _private_imports(ast.parse(path.read_text("utf-8")))
    ]
    assert not offences, "private helpers used across modules:\n" + "\n".join(offences)


def test_the_check_sees_both_forms():
    tree = ast.parse(
        "from wangge.events.intake import _hidden\nfrom . import batch\nfrom .x import y\n"
        "def f():\n    return batch._write_one, y._ok, obj._own, y._meta\n"
    )
    assert [what for _, what in _private_imports(tree)] == [
        "from wangge.events.intake import _hidden",
        "batch._write_one",
        "y._ok",
    ]
