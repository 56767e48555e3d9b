"""The layer contract of pyproject.toml ([tool.importlinter]) holds, and the checker really catches a
breach: the same runner, fed the same contracts renamed onto a throwaway package with one forbidden import,
must report it (so a broken runner or a contract that can never fail does not pass silently)."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: nothing written into the work tree; building the graph takes well under a second.
    return subprocess.run(  # noqa: S603 - our own venv's executable and a config file we chose
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _broken_part(output: str) -> str:
    return output[output.find("Broken contracts") :] if "Broken contracts" in output else output


def test_the_layer_contracts_are_kept():
    result = _lint_imports(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, _broken_part(result.stdout + result.stderr)
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def _toml(options: dict[str, Any]) -> str:
    # JSON strings, lists, numbers and booleans are valid TOML values.
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    return value


def _toy_project(tmp_path: Path, upward: tuple[str, str]) -> Path:
    """The project's own contracts, renamed onto package `toy` whose apps (one per layer) import only
    downwards, except `upward` = (lower, upper): lower imports upper inside a function. Its tests import
    the top app."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    # The app-level contracts (the events' inner layers are checked by the same runner on the real tree).
    top = [c for c in settings["contracts"] if c.get("containers", ["wangge"]) == ["wangge"]]
    contracts = [{k: _renamed(v, "wangge", "toy") for k, v in c.items()} for c in top]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    apps = [
        name.strip().strip("()") for layer in layers for name in layer.replace("|", ":").split(":") if name
    ]
    for app in apps:
        (tmp_path / "toy" / app).mkdir(parents=True)
        (tmp_path / "toy" / app / "__init__.py").write_text("")
    (tmp_path / "toy" / "__init__.py").write_text("")
    for higher, lower in zip(apps, apps[1:], strict=False):
        (tmp_path / "toy" / higher / "uses.py").write_text(f"from toy.{lower} import uses  # noqa\n")
    # Tests may import any app (they are left out of the contracts): the toy's must not break them.
    (tmp_path / "toy" / "core" / "tests").mkdir()
    (tmp_path / "toy" / "core" / "tests" / "__init__.py").write_text("")
    (tmp_path / "toy" / "core" / "tests" / "test_all.py").write_text(f"from toy.{apps[0]} import uses\n")
    lower, upper = upward
    (tmp_path / "toy" / lower / "late.py").write_text(f"def late():\n    from toy.{upper} import uses\n")
    config = "[tool.importlinter]\n" + _toml({**settings, "root_package": "toy", "contracts": None})
    config = config.replace("contracts = null\n", "")
    for contract in contracts:
        config += "\n[[tool.importlinter.contracts]]\n" + _toml(contract)
    (tmp_path / "pyproject.toml").write_text(config, "utf-8")
    return tmp_path / "pyproject.toml"


def test_the_checker_reports_an_upward_import(tmp_path):
    # core (the bottom layer) importing accounts inside a function, as core once did.
    config = _toy_project(tmp_path, upward=("core", "accounts"))
    result = _lint_imports(config, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = _broken_part(result.stdout)
    assert "toy.core is not allowed to import toy.accounts" in report
    assert "toy.core.late -> toy.accounts" in report
    assert "Contracts: 0 kept, 2 broken." in result.stdout  # the upward import is a cycle too


def test_the_checker_passes_the_toy_without_the_upward_import(tmp_path):
    # The same toy with a downward "late" import is kept: the failure above comes from the breach alone.
    config = _toy_project(tmp_path, upward=("accounts", "core"))
    result = _lint_imports(config, tmp_path)
    assert result.returncode == 0, _broken_part(result.stdout + result.stderr)
