"""The import-linter contracts in pyproject.toml catch an upward import, on real files.

CI runs `lint-imports` on the real tree; this checks that the contract it runs is not
vacuous: a copy of the package passes, and the same copy with one import from a lower layer
up into a higher one fails and names that import. The copy sits first on PYTHONPATH, so it
(not the editable install) is what gets analysed; the clean run is what proves the contract
itself holds there, and the broken run is what proves the copy was the tree analysed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp

import atmn_auth

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
UPWARD = "atmn_auth.envfiles.reader -> atmn_auth.commands.env"


def importlinter_options() -> dict[str, Any]:
    options: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return options


def importlinter_section() -> str:
    """The `[tool.importlinter]` tables of pyproject.toml, as they are written there."""
    kept: list[str] = []
    inside = False
    for line in PYPROJECT.read_text().splitlines():
        if line.startswith("["):
            inside = line.strip("[] ").startswith("tool.importlinter")
        if inside:
            kept.append(line)
    section = "\n".join(kept) + "\n"
    # The very contract CI runs, nothing dropped or added by the slicing above.
    assert tomllib.loads(section)["tool"]["importlinter"] == importlinter_options()
    return section


def lint_imports(config: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
        "COLUMNS": "250",  # no wrapped lines in the report
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_layers_contract_catches_an_upward_import(tmp_path: Path) -> None:
    options = importlinter_options()
    contracts = {c["id"]: c for c in options["contracts"]}
    assert contracts["layers"]["type"] == "layers"
    layers_name = contracts["layers"]["name"]

    src = tmp_path / "src"
    for package in options["root_packages"]:
        if "." not in package:
            shutil.copytree(
                ROOT / "src" / package,
                src / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
    config = tmp_path / "importlinter.toml"
    config.write_text(importlinter_section())

    clean = lint_imports(config, src)
    report = clean.stdout + clean.stderr
    assert clean.returncode == 0, report
    assert f"Contracts: {len(contracts)} kept, 0 broken." in report, report
    assert f"{layers_name} KEPT" in report, report

    reader = src / "atmn_auth" / "envfiles" / "reader.py"
    assert "atmn_auth.commands" not in reader.read_text()
    with reader.open("a") as out:
        out.write("\nfrom atmn_auth.commands import env\n")

    broken = lint_imports(config, src)
    report = broken.stdout + broken.stderr
    assert broken.returncode != 0, report
    assert f"{layers_name} BROKEN" in report, report
    assert "atmn_auth.envfiles is not allowed to import atmn_auth.commands" in report, report
    assert UPWARD in report, report


def test_contracts_see_every_module() -> None:
    """grimp skips a folder without __init__.py inside a regular package: each such folder
    must be one of the root_packages, or its modules escape every contract."""
    root_packages = importlinter_options()["root_packages"]
    graph = grimp.build_graph(*root_packages, cache_dir=None)
    package = Path(atmn_auth.__file__).parent  # the tree grimp finds, as lint-imports does
    on_disk = set()
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        on_disk.add(".".join(parts))
    assert "atmn_auth.commands.env" in on_disk
    missing = sorted(on_disk - set(graph.modules))
    assert not missing, f"not seen by lint-imports (add their folder to root_packages): {missing}"
