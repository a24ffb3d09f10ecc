"""Running `atmn` in a fresh interpreter and seeing what it printed and loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
out_path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.argv = ["atmn", *args]
code = 0
try:
    if mode == "click":
        from atmn_auth.cli import main
    else:
        from atmn_auth.__main__ import main
    main()
except SystemExit as exc:
    code = exc.code
finally:
    sys.stdout.flush()
    with open(out_path, "w") as out:
        json.dump({"code": code, "click": "click" in sys.modules}, out)
"""


def run(
    args: list[str], cwd: Path, env: dict[str, str], mode: str = "main"
) -> tuple[int, bytes, bytes, bool]:
    """Exit code, stdout, stderr, and whether click was imported."""
    probe = cwd.parent / f"probe-{cwd.name}.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(probe), mode, *args],
        cwd=cwd,
        capture_output=True,
        timeout=60,
        env=env,
    )
    data = json.loads(probe.read_text())
    probe.unlink()
    code = data["code"]
    return (0 if code is None else code), result.stdout, result.stderr, data["click"]
