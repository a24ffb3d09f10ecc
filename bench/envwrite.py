"""Writing both keys into a 10,000-line `.env` found 40 directories up.

`find_env_file` + `update_env_file` from `atmn_auth.envfiles.writer`, timed two ways:

- first write in a fresh process (what `atmn login` does once): the child imports
  `atmn_auth.envfiles.writer` before the clock starts, so the lazy imports the calls make
  (the grammar, filelock, platformdirs) are counted;
- repeated writes in one process (lazy imports already done).

The file is restored between runs, and every run writes keys that differ from the
ones in the file, so each run really rewrites it (and fsyncs it).

Run as `python envwrite.py --once START_DIR SANDBOX LIVE` it is the child: it prints the
elapsed milliseconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

LINES = 10_000
DEPTH = 40


def make_tree(root: Path, *, quoted: bool = False) -> tuple[Path, Path, bytes]:
    """(the deepest directory, the .env at the top, its original bytes). With `quoted`,
    one line in ten has a double-quoted value."""
    top = root / ("repo-quoted" if quoted else "repo")
    top.mkdir()
    lines = [
        f"# settings for the app, section {n // 100}" if n % 100 == 0 else "" for n in range(LINES)
    ]
    for n in range(LINES):
        if not lines[n]:
            lines[n] = f"SETTING_{n:05d}=value-{n:05d}-abcdefghijklmnopqrstuvwxyz"
            if quoted and n % 10 == 5:
                lines[n] = f'SETTING_{n:05d}="value {n:05d} with spaces"'
    lines[LINES // 3] = "AUTUMN_SECRET_KEY=am_sk_test_" + "o" * 42
    lines[2 * LINES // 3] = "AUTUMN_PROD_SECRET_KEY=am_sk_live_" + "o" * 42
    original = ("\n".join(lines) + "\n").encode()
    dotenv = top / ".env"
    dotenv.write_bytes(original)
    dotenv.chmod(0o600)
    deep = top
    for n in range(DEPTH):
        deep = deep / f"d{n:02d}"
    deep.mkdir(parents=True)
    return deep, dotenv, original


def keys(n: int) -> tuple[str, str]:
    tail = f"{n:08d}"
    return "am_sk_test_" + "t" * 34 + tail, "am_sk_live_" + "l" * 34 + tail


def write_once(start: Path, sandbox: str, live: str) -> tuple[float, Path]:
    """Elapsed ms for find + update, and the file written."""
    from atmn_auth.envfiles.reader import find_env_file
    from atmn_auth.envfiles.writer import update_env_file

    began = time.perf_counter()
    target = find_env_file(start)
    update_env_file(
        target, set_values={"AUTUMN_SECRET_KEY": sandbox, "AUTUMN_PROD_SECRET_KEY": live}
    )
    return (time.perf_counter() - began) * 1000, target


def check(dotenv: Path, sandbox: str, live: str) -> None:
    text = dotenv.read_text()
    if (
        f"AUTUMN_SECRET_KEY={sandbox}\n" not in text
        or f"AUTUMN_PROD_SECRET_KEY={live}\n" not in text
    ):
        raise RuntimeError("the keys were not written")
    if text.count("\n") != LINES:
        raise RuntimeError("the other lines were not kept")


def fresh_process_writes(
    deep: Path, dotenv: Path, original: bytes, runs: int, env: dict[str, str]
) -> list[float]:
    import subprocess

    from harness import PYTHON

    cold: list[float] = []
    for n in range(runs + 1):
        dotenv.write_bytes(original)
        sandbox, live = keys(n)
        out = subprocess.run(
            [PYTHON, __file__, "--once", str(deep), sandbox, live],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        check(dotenv, sandbox, live)
        if n:  # the first run warms the file cache
            cold.append(float(out.strip()))
    return cold


def measure(
    root: Path, runs: int, env: dict[str, str], log: Callable[[str], None]
) -> dict[str, list[float]]:
    deep, dotenv, original = make_tree(root)
    cold = fresh_process_writes(deep, dotenv, original, runs, env)
    warm: list[float] = []
    for n in range(runs + 1):
        dotenv.write_bytes(original)
        sandbox, live = keys(1000 + n)
        elapsed, target = write_once(deep, sandbox, live)
        if target != dotenv:
            raise RuntimeError(f"found {target}, not {dotenv}")
        check(dotenv, sandbox, live)
        if n:
            warm.append(elapsed)
    q_deep, q_dotenv, q_original = make_tree(root, quoted=True)
    quoted = fresh_process_writes(q_deep, q_dotenv, q_original, max(3, runs // 3), env)
    log(f"envfile: {runs} cold, {runs} warm and {len(quoted)} quoted writes done")
    return {"cold": cold, "warm": warm, "quoted": quoted}


if __name__ == "__main__" and sys.argv[1:2] == ["--once"]:
    import atmn_auth.envfiles.writer  # noqa: F401  (imported before the clock starts)

    elapsed, _ = write_once(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
    print(f"{elapsed:.3f}")
