"""The README's first command, `scripts/demo`, does the main job from start to finish."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dotenv import dotenv_values

from atmn_auth.keyformat import key_kind

REPO = Path(__file__).resolve().parents[1]


def test_scripts_demo_signs_in_against_a_fresh_autumn_local(tmp_path: Path) -> None:
    data, project = tmp_path / "data", tmp_path / "project"
    env = {
        **os.environ,
        "AUTUMN_LOCAL_DATA": str(data),
        "DEMO_PROJECT": str(project),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / ".cache"),
    }
    env.pop("DISPLAY", None)
    # The browser signs in as the demo user with the password the demo seeded, read
    # through `autumn-local demo-user` (see demo_browser.sh), and picks Globex.
    env["BROWSER"] = f"{REPO / 'tests' / 'support' / 'demo_browser.sh'} %s"
    env["SCRIPTED_BROWSER_EMAIL"] = "demo@autumn.local"
    env["SCRIPTED_BROWSER_ORG"] = "globex"

    result = subprocess.run(
        [str(REPO / "scripts" / "demo"), "--org", "globex", "--timeout", "60"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        # as a developer runs it: the demo (re)installs the project into .venv, whose
        # files other users' processes in later tests (the read-only tests) must read;
        # the suite's own umask (tests/conftest.py) would make them 0600
        umask=0o022,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "password:" in result.stdout  # the demo user's credentials are shown
    values = dotenv_values(project / ".env")
    assert key_kind(values["AUTUMN_SECRET_KEY"] or "") == "sandbox"
    assert key_kind(values["AUTUMN_PROD_SECRET_KEY"] or "") == "live"
    assert "Signed in to Globex (globex)" in result.stdout
    assert "accepted: organization Globex (globex)" in result.stdout
