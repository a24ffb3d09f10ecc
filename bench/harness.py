"""Running a command and timing it (through launch.py: wall time with `time.perf_counter`,
peak memory with getrusage RUSAGE_CHILDREN `ru_maxrss`), and summaries as min / median / max.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
ATMN = str(VENV_BIN / "atmn")


@dataclass
class Sample:
    """Repeated measurements of one figure, in `unit`."""

    values: list[float] = field(default_factory=list)
    unit: str = "ms"

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def summary(self) -> str:
        if not self.values:
            return "n/a"
        return f"{self.min:.1f} / {self.median:.1f} / {self.max:.1f} {self.unit}"


@dataclass
class Finished:
    """A finished child: exit code, output, wall time (ms) and peak resident memory (MB)."""

    returncode: int
    stdout: str
    stderr: str
    wall_ms: float
    peak_mb: float


LAUNCH = str(Path(__file__).with_name("launch.py"))


@dataclass
class Launched:
    """A command started through launch.py; `process` is the launcher (its own session)."""

    process: subprocess.Popen[bytes]
    result_file: Path

    def wait(self) -> tuple[int, float, float]:
        """Exit code, wall ms and peak MB of the command, once it has exited."""
        self.process.wait()
        code, wall, peak_kb = self.result_file.read_text().split()
        self.result_file.unlink()
        return int(code), float(wall), int(peak_kb) / 1024

    def kill(self) -> None:
        """Kills the command and its launcher."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def launch(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: Any, stderr: Any
) -> Launched:
    handle, name = tempfile.mkstemp(prefix="atmn-bench-", suffix=".result")
    os.close(handle)
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", LAUNCH, name, *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
    return Launched(process, Path(name))


def run(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Finished:
    """Runs `args` to completion with output to files (no pipe to drain while timing)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code, wall, peak = launch(args, cwd=cwd, env=env, stdout=out, stderr=err).wait()
        out.seek(0)
        err.seek(0)
        return Finished(
            code,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            wall,
            peak,
        )


def machine() -> dict[str, str]:
    """CPU model, cores, Python, OS, date and load: printed beside every set of results."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    version = subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys, platform; print(platform.python_implementation(), sys.version)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "CPU": model,
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "Python": version.replace("\n", " "),
        "OS": " ".join(os.uname()[i] for i in (0, 2, 4)),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


#: Sections of RESULTS.md written by their own benchmark (`bench/wan.py`,
#: `bench/envsize.py`), which a full `bench/run.py` keeps as they are.
OWN_SECTIONS = ("WAN", ".env size")


def section_pattern(heading: str) -> re.Pattern[str]:
    """`## <heading>…` up to the next `## ` (or the end)."""
    return re.compile(rf"^## {re.escape(heading)}\b.*?(?=^## |\Z)", re.S | re.M)


def write_section(path: Path, heading: str, text: str) -> None:
    """Replaces the `## <heading>` section of `path` with `text`, or adds it before
    `## Notes` (or at the end)."""
    old = path.read_text() if path.exists() else "# atmn benchmarks\n"
    pattern = section_pattern(heading)
    if pattern.search(old):
        new = pattern.sub(lambda _m: text.rstrip("\n") + "\n\n", old, count=1)
    elif "\n## Notes" in old:
        head, tail = old.split("\n## Notes", 1)
        new = head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n\n## Notes" + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def keep_own_sections(old: str, new: str, path: Path) -> None:
    """Writes `new` to `path` with the sections other benchmarks own copied from `old`."""
    path.write_text(new)
    for heading in OWN_SECTIONS:
        found = section_pattern(heading).search(old)
        if found:
            write_section(path, heading, found.group(0))
