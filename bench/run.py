"""Runs every benchmark and writes bench/RESULTS.md.

    .venv/bin/python bench/run.py            # the full set (a few minutes)
    .venv/bin/python bench/run.py --quick    # fewer repetitions, same figures
    .venv/bin/python bench/run.py --startup  # only start-up: updates that part of RESULTS.md

Each figure is min / median / max over repeated runs, beside `python -c pass` measured
in the same run with the same interpreter. Exit code 0 when every target is met, 1 when
one is missed, 2 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import envwrite  # noqa: E402
import logins  # noqa: E402
from harness import Sample, keep_own_sections, machine  # noqa: E402
from tests.support.atmn_cli import clean_env  # noqa: E402

import startup  # noqa: E402

RESULTS = BENCH / "RESULTS.md"


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    met: bool


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write")
    parser.add_argument(
        "--startup",
        action="store_true",
        help="only the start-up figures; rewrites just their lines and section in --output",
    )
    args = parser.parse_args(argv)
    startup_rounds, env_runs, login_runs, crowd_runs = (
        (10, 10, 5, 1) if args.quick else (40, 30, 15, 3)
    )
    command = "bench/run.py" + (" --quick" if args.quick else "")
    if args.startup:
        return startup_only(args.output, startup_rounds, command + " --startup")
    info = machine()
    rows: list[Row] = []
    sections: list[str] = []

    with tempfile.TemporaryDirectory(prefix="atmn-bench-") as tmp:
        root = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")  # in-process envfile locks

        # --- start-up
        base, startup_rows, section = startup_section(root, startup_rounds)
        rows.extend(startup_rows)
        sections.append(section)

        # --- envfile
        log("envfile")
        env_root = root / "envfile"
        env_root.mkdir()
        env_home = env_root / "home"
        env_home.mkdir()
        writes = envwrite.measure(env_root, env_runs, clean_env(env_home), log)
        cold, warm = Sample(writes["cold"]), Sample(writes["warm"])
        rows.append(
            Row(
                "both keys into a 10,000-line `.env` 40 directories up, median of "
                "find_env_file + update_env_file (first write in a fresh process, which also "
                "pays the lazy imports, in brackets)",
                f"{warm.median:.1f} ms ({cold.median:.1f} ms)",
                "≤ 50 ms",
                warm.median <= 50,
            )
        )
        sections.append(
            f"## `.env` write ({env_runs} runs each)\n\n"
            f"`find_env_file` from {envwrite.DEPTH} directories below a {envwrite.LINES:,}-line "
            "`.env`, then `update_env_file` setting both keys\n"
            "(lock, parse, atomic write, fsync).\n\n"
            "| how | min / median / max |\n|---|---|\n"
            f"| first write in a fresh process (lazy imports counted) | {cold.summary()} |\n"
            f"| repeated writes in one process | {warm.summary()} |\n"
            f"| the same file with quoted values (1 line in 10), fresh process | "
            f"{Sample(writes['quoted']).summary()} |\n\n"
            "A `.env` without quote characters is rewritten by parsing only the lines that "
            "name the two variables; one with quotes is cut whole into python-dotenv's "
            "bindings (`envfiles/grammar.py`), which is what the last row costs."
        )

        # --- logins
        log("autumn-local")
        server = logins.start_server(root)
        try:
            login_root = root / "logins"
            login_root.mkdir()
            single = logins.measure_single(server, login_root, login_runs, log)
            crowds, crowd_clashes = logins.measure_crowd(server, login_root, crowd_runs, log)
        finally:
            server.stop()
        rows.append(
            Row(
                "`atmn login`: callback → `.env` written, median (seen from outside)",
                f"{single.outside_ms.median:.1f} ms",
                "≤ 100 ms",
                single.outside_ms.median <= 100,
            )
        )
        rows.append(
            Row(
                "`atmn login`: peak memory of the whole command (max over runs)",
                f"{single.peak.max:.1f} MB",
                "≤ 64 MB",
                single.peak.max <= 64,
            )
        )
        sections.append(
            f"## `atmn login` against autumn-local ({login_runs} logins, 1 warm-up dropped)\n\n"
            "`atmn login --org acme --no-browser --debug` in an empty directory; the harness "
            "plays the browser (tests/support/scripted_browser.py) and sends the final "
            "callback request itself.\n\n"
            "| figure | min / median / max |\n|---|---|\n"
            f"| callback request sent → `.env` modified (file clock, outside view) | "
            f"{single.outside_ms.summary()} |\n"
            f"| callback handed over → `.env` written (the CLI's `debug:` line) | "
            f"{single.reported_ms.summary()} |\n"
            f"| peak resident memory of `atmn login` | {single.peak.summary()} |\n"
            f"| whole command, start to exit (includes the scripted sign-in) | "
            f"{single.wall.summary()} |\n\n"
            f"Callback ports found taken by other programs and retried: {single.clashes}."
        )

        crowd_ok = all(
            c.all_ok
            and c.ports == list(logins.PORTS)
            and c.sixth_code != 0
            and "31448" in c.sixth_stderr
            and "31452" in c.sixth_stderr
            for c in crowds
        )
        sixth = Sample([c.sixth_ms for c in crowds])
        five = Sample([c.five_ms for c in crowds])
        rows.append(
            Row(
                "five `atmn login` at once on 31448-31452; a sixth fails at once",
                f"{'all five succeeded' if crowd_ok else 'FAILED'}; sixth exits in "
                f"{sixth.median:.0f} ms (median)",
                "five succeed, sixth fails naming the ports",
                crowd_ok,
            )
        )
        error_line = next(
            (ln for ln in crowds[-1].sixth_stderr.splitlines() if "error" in ln), "(none)"
        )
        sections.append(
            f"## Five logins at once ({crowd_runs} run{'s' if crowd_runs > 1 else ''})\n\n"
            "Five `atmn login --no-browser` wait at the same time; a sixth is started, then the "
            "five are signed in concurrently.\n\n"
            "| figure | value |\n|---|---|\n"
            f"| ports used (each run) | {'; '.join(_ports(c.ports) for c in crowds)} |\n"
            f"| sixth `atmn login`: exit code | {', '.join(str(c.sixth_code) for c in crowds)} |\n"
            f"| sixth `atmn login`: start to exit | {sixth.summary()} |\n"
            f"| five logins, first start to last exit | {five.summary()} |\n\n"
            f"The sixth's error: `{error_line}`\n\n"
            f"Runs repeated because another program held a callback port: {crowd_clashes}."
        )

    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    old = args.output.read_text() if args.output.exists() else ""
    keep_own_sections(old, render(info, rows, sections, command, base), args.output)
    log(f"wrote {args.output}")
    for row in rows:
        print(f"{'MET   ' if row.met else 'MISSED'} {row.figure}: {row.measured} ({row.target})")
    return 0 if all(r.met for r in rows) else 1


def startup_section(root: Path, rounds: int) -> tuple[Sample, list[Row], str]:
    """The start-up figures: the baseline, the target rows, and the section's text.

    The commands run with `XDG_CACHE_HOME` under `root`, so `atmn --help` is timed with
    its help cache filled (by the check run before timing), as a user sees it from the
    second time on.
    """
    log("start-up")
    (root / "startup").mkdir()
    figures = startup.measure(root / "startup", rounds, log)
    base = figures[0].wall
    rows: list[Row] = []
    lines = [
        "| command | wall time min / median / max | x baseline (median) | peak RSS (median) |",
        "|---|---|---|---|",
    ]
    for f in figures:
        ratio = f.wall.median / base.median
        lines.append(
            f"| `{_shown(f.args)}` | {f.wall.summary()} | {ratio:.2f}x | {f.memory.median:.1f} MB |"
        )
        if f.limit is not None:
            rows.append(
                Row(
                    f"`{_shown(f.args)}` median",
                    f"{ratio:.2f}x baseline ({f.wall.median:.1f} ms vs {base.median:.1f} ms)",
                    f"≤ {f.limit:g}x baseline",
                    ratio <= f.limit,
                )
            )
    section = (
        f"## Start-up ({rounds} rounds, shuffled order, "
        f"{startup.WARMUP_ROUNDS} warm-up rounds dropped)\n\n" + "\n".join(lines) + "\n\n"
        "`atmn env --offline` runs in a git work tree whose `.env` (git-ignored) holds both "
        "keys; it reads the file and runs `git check-ignore` once." + _click_share(figures)
    )
    return base, rows, section


def startup_only(output: Path, rounds: int, command: str) -> int:
    """Measures start-up only and rewrites, in `output`, the baseline line, the start-up
    target rows and the start-up section, leaving the other figures as they were."""
    with tempfile.TemporaryDirectory(prefix="atmn-bench-") as tmp:
        root = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        base, rows, section = startup_section(root, rounds)
    text = output.read_text()
    text = re.sub(
        r"(?m)^Baseline, same interpreter, same run: .*$",
        lambda _: (
            f"Baseline, same interpreter, same run: `python -c pass` = {base.summary()} "
            "(min / median / max)."
        ),
        text,
    )
    for row in rows:
        line = f"| {row.figure} | {row.measured} | {row.target} | {verdict(row.met)} |"
        text = re.sub(rf"(?m)^\| {re.escape(row.figure)} \|.*$", lambda _, line=line: line, text)
    text = re.sub(r"(?s)## Start-up \(.*?(?=\n## )", lambda _: section + "\n", text)
    text = re.sub(
        r"(?s)(Start-up figures last measured alone with:\n\n    \.venv/bin/python [^\n]*\n\n)?"
        r"## Machine",
        lambda _: (
            "Start-up figures last measured alone with:\n\n"
            f"    .venv/bin/python {command}\n\n## Machine"
        ),
        text,
        count=1,
    )
    output.write_text(text)
    log(f"updated the start-up figures in {output}")
    for row in rows:
        print(f"{'MET   ' if row.met else 'MISSED'} {row.figure}: {row.measured} ({row.target})")
    return 0 if all(r.met for r in rows) else 1


def _click_share(figures: list[startup.Timed]) -> str:
    base, click = figures[0].wall.median, figures[1].wall.median
    named = {f.name: f.wall.median for f in figures}
    help_ms, env_ms = named["atmn --help"], named["atmn env --offline"]
    return (
        f"\n\nWhere the time goes: `import click` alone takes {click:.1f} ms, "
        f"{click / base:.2f}x the baseline, and neither command imports it. `atmn --help` "
        f"({help_ms - base:+.1f} ms over the baseline) prints click's own rendering from a "
        "cache in the user cache directory (`atmn_auth.helpcache`; keyed on the version, "
        "interpreter, terminal width, locale and the stamps of the click and atmn_auth "
        "files that rendered it). `atmn env --offline` "
        f"({env_ms - base:+.1f} ms over the baseline) is answered by `atmn_auth.__main__` "
        "with the click command's own `run_env` (same output and exit code, tested); it "
        "imports pathlib, re and typing, finds the key variables in the .env without "
        "parsing the rest, and starts `git check-ignore` with `os.posix_spawnp`. "
        "`atmn --version` is answered before click is imported."
    )


def _ports(ports: list[int]) -> str:
    return ", ".join(map(str, ports))


def _shown(args: list[str]) -> str:
    name = Path(args[0]).name
    return shlex.join([name, *args[1:]])


def render(
    info: dict[str, str], rows: list[Row], sections: list[str], command: str, base: Sample
) -> str:
    machine_lines = "\n".join(f"- {k}: {v}" for k, v in info.items())
    target_lines = "\n".join(
        f"| {r.figure} | {r.measured} | {r.target} | {verdict(r.met)} |" for r in rows
    )
    return (
        "# atmn benchmarks\n\n"
        "Reproduce from the repository root (after `pip install -e '.[dev]'` into `.venv`):\n\n"
        f"    .venv/bin/python {command}\n\n"
        f"## Machine\n\n{machine_lines}\n\n"
        f"Baseline, same interpreter, same run: `python -c pass` = {base.summary()} "
        "(min / median / max).\n\n"
        "## Targets\n\n| figure | measured | target | |\n|---|---|---|---|\n"
        f"{target_lines}\n\n" + "\n\n".join(sections) + "\n\n" + NOTES
    )


NOTES = """## Notes

- Wall time is `time.perf_counter()` around starting the process and reaping it; peak
  memory is the child's `ru_maxrss` from `os.wait4` (the per-child form of
  `getrusage(RUSAGE_CHILDREN)`), so one run's figure is not mixed with another's.
- Other work running on the machine at the same time shows in the max column and the
  load averages above; compare medians, and the ratio to the baseline taken in the same
  rounds.
"""


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as exc:  # a benchmark that cannot run is not a missed target
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        sys.exit(2)
