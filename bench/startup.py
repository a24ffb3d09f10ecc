"""Start-up: `atmn --version`, `atmn --help` and `atmn env --offline` beside `python -c pass`.

Every round runs the baseline and each command once, in a shuffled order, so that all of
them see the same machine load; the first rounds warm the file cache and are dropped.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import ATMN, PYTHON, Sample, run
from tests.support.atmn_cli import clean_env

SANDBOX = "am_sk_test_" + "S" * 38 + "1234"
LIVE = "am_sk_live_" + "L" * 38 + "5678"
WARMUP_ROUNDS = 3


@dataclass
class Timed:
    name: str
    args: list[str]
    limit: float | None  # the target, as a multiple of the baseline's median
    wall: Sample = field(default_factory=Sample)
    memory: Sample = field(default_factory=lambda: Sample(unit="MB"))


def make_project(root: Path) -> Path:
    """A git work tree whose .env holds both keys and is git-ignored, like a real project."""
    project = root / "project"
    project.mkdir()
    (project / ".env").write_text(
        f"# app settings\nDATABASE_URL=postgres://localhost/app\n"
        f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n"
    )
    (project / ".env").chmod(0o600)
    (project / ".gitignore").write_text(".env\n")
    git = shutil.which("git")
    if git:
        subprocess.run([git, "init", "-q", str(project)], check=True)
    return project


def measure(root: Path, rounds: int, log: Callable[[str], None]) -> list[Timed]:
    home = root / "home"
    home.mkdir()
    project = make_project(root)
    env = clean_env(home)
    figures = [
        Timed("python -c pass (baseline)", [PYTHON, "-c", "pass"], None),
        Timed("import click (reference)", [PYTHON, "-c", "import click"], None),
        Timed("atmn --version", [ATMN, "--version"], 3.0),
        Timed("atmn --help", [ATMN, "--help"], 3.0),
        Timed("atmn env --offline", [ATMN, "env", "--offline"], 4.0),
    ]
    for figure in figures:  # each must work before it is timed
        result = run(figure.args, cwd=project, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{figure.name} failed ({result.returncode}): {result.stderr}")
    order = list(figures)
    for round_no in range(WARMUP_ROUNDS + rounds):
        random.shuffle(order)
        for figure in order:
            result = run(figure.args, cwd=project, env=env)
            if result.returncode != 0:
                raise RuntimeError(f"{figure.name} failed: {result.stderr}")
            if round_no >= WARMUP_ROUNDS:
                figure.wall.add(result.wall_ms)
                figure.memory.add(result.peak_mb)
    log(f"start-up: {rounds} rounds done")
    return figures
