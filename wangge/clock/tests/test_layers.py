"""The shared apps sit below every domain: no import of wangge.events (function-local ones included) and
no relation to an events model in wangge/clock or wangge/notify."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sources() -> list[Path]:
    return [
        p
        for app in ("clock", "notify")
        for p in (ROOT / app).rglob("*.py")
        if "tests" not in p.parts and "migrations" not in p.parts
    ]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_of_the_events_app(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "import_string",
            "ForeignKey",
            "OneToOneField",
            "ManyToManyField",
        ):
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        for name in names:
            assert not name.startswith(("wangge.events", "events.")), f"{path}:{node.lineno} {name}"
