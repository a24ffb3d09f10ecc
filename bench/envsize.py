"""`atmn env --offline` with a 100,000-line `.env` 40 directories up, beside a 100-line one.

    .venv/bin/python bench/envsize.py              # 30 rounds
    .venv/bin/python bench/envsize.py --rounds 10

Runs the installed `.venv/bin/atmn` as a subprocess (through launch.py, as bench/run.py
does), every figure once per round in a shuffled order so that all see the same machine
load, after warm-up rounds that also leave the bytecode cached. The files are like real
ones: comments (with apostrophes), quoted and multi-line values, `export`; the keys come
last (where `atmn login` appends them), and in one more file in the middle. Prints a
table of min / median / max and the command; exit 0 when the 100,000-line median is at
most 1.5 times the 100-line one, 1 when not.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from harness import ATMN, PYTHON, Sample, machine, run, write_section  # noqa: E402
from tests.support.atmn_cli import clean_env  # noqa: E402

DEPTH = 40
LIMIT = 1.5
WARMUP_ROUNDS = 3
SANDBOX = "am_sk_test_" + "S" * 38 + "1234"
LIVE = "am_sk_live_" + "L" * 38 + "5678"


@dataclass
class Figure:
    name: str
    args: list[str]
    cwd: Path
    wall: Sample = field(default_factory=Sample)


def env_text(lines: int, *, keys_at: int | None = None) -> str:
    """`lines` lines of a realistic `.env`; the two keys at line `keys_at` (default: last)."""
    out = []
    for n in range(lines - 2):
        kind = n % 10
        if kind == 0:
            out.append(f"# settings, section {n // 10}: don't edit by hand")
        elif kind in (1, 6):
            out.append(f'QUOTED_{n}="value {n} with spaces" # it\'s quoted')
        elif kind == 2:
            out.append(f"SINGLE_{n}='single {n}'")
        elif kind == 3 and n % 1000 == 3:
            out.append(f'CERT_{n}="-----BEGIN-----\nAUTUMN_SECRET_KEY=not-this-one\n-----END-----"')
        elif kind == 5:
            out.append(f"export PLAIN_{n}=postgres://user@localhost:5432/app_{n}")
        else:
            out.append(f"SETTING_{n}=value-{n}-abcdefghijklmnopqrstuvwxyz")
    keys = [f"AUTUMN_SECRET_KEY={SANDBOX}", f"AUTUMN_PROD_SECRET_KEY={LIVE}"]
    at = len(out) if keys_at is None else keys_at
    out[at:at] = keys
    return "\n".join(out) + "\n"


def make_tree(root: Path, name: str, text: str) -> Path:
    """`root/name/.env` holding `text`, and the directory DEPTH levels below it."""
    top = root / name
    top.mkdir()
    dotenv = top / ".env"
    dotenv.write_text(text)
    dotenv.chmod(0o600)
    deep = top
    for n in range(DEPTH):
        deep = deep / f"d{n:02d}"
    deep.mkdir(parents=True)
    return deep


def measure(root: Path, rounds: int) -> list[Figure]:
    home = root / "home"
    home.mkdir()
    env = clean_env(home)
    figures = [
        Figure("python -c pass (baseline)", [PYTHON, "-c", "pass"], root),
        Figure(
            "`atmn env --offline`, 100-line `.env`",
            [ATMN, "env", "--offline"],
            make_tree(root, "small", env_text(100)),
        ),
        Figure(
            "`atmn env --offline`, 100,000-line `.env`",
            [ATMN, "env", "--offline"],
            make_tree(root, "big", env_text(100_000)),
        ),
        Figure(
            "`atmn env --offline`, 100,000-line `.env`, keys at line 50,000",
            [ATMN, "env", "--offline"],
            make_tree(root, "middle", env_text(100_000, keys_at=50_000)),
        ),
    ]
    for figure in figures:  # each must work (and find the key) before it is timed
        result = run(figure.args, cwd=figure.cwd, env=env)
        if result.returncode != 0 or (figure.args[0] == ATMN and "1234" not in result.stdout):
            raise RuntimeError(f"{figure.name} failed ({result.returncode}): {result.stderr}")
    order = list(figures)
    for round_no in range(WARMUP_ROUNDS + rounds):
        random.shuffle(order)
        for figure in order:
            result = run(figure.args, cwd=figure.cwd, env=env)
            if result.returncode != 0:
                raise RuntimeError(f"{figure.name} failed: {result.stderr}")
            if round_no >= WARMUP_ROUNDS:
                figure.wall.add(result.wall_ms)
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atmn-envsize-") as tmp:
        figures = measure(Path(tmp), args.rounds)
    small = figures[1].wall.median
    lines = [
        f"## .env size ({args.rounds} rounds, shuffled order)",
        "",
        "Reproduce:",
        "",
        f"    {shlex.join(['.venv/bin/python', 'bench/envsize.py', *argv])}",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [
        "",
        f"The `.env` is {DEPTH} directories above the working directory.",
        "",
        "| figure | min / median / max | median vs 100 lines |",
        "|---|---|---|",
    ]
    for figure in figures:
        ratio = figure.wall.median / small
        lines.append(f"| {figure.name} | {figure.wall.summary()} | {ratio:.2f}x |")
    big = figures[2].wall.median / small
    middle = figures[3].wall.median / small
    met = big <= LIMIT and middle <= LIMIT
    lines += [
        "",
        f"Target: 100,000 lines at most {LIMIT}x the 100-line median: "
        f"{big:.2f}x (keys last), {middle:.2f}x (keys in the middle): "
        f"{'met' if met else 'missed'}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(RESULTS, ".env size", text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
