"""Helpers for the `atmn run` and `atmn env --export` tests: keys minted on a real
autumn-local, a project directory with a real `.env`, and the real console script."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.atmn_cli import ATMN, clean_env
from support.autumn_server import AutumnServer
from support.oauth_flow import mint, sign_in

__all__ = ["ATMN", "FAKE_LIVE", "FAKE_SANDBOX", "Keys", "atmn", "clean_env", "mint_keys"]

#: Well-formed keys no server knows: for the `--offline` tests.
FAKE_SANDBOX = "am_sk_test_" + "a1" * 21
FAKE_LIVE = "am_sk_live_" + "b2" * 21
STALE_SANDBOX = "am_sk_test_" + "c3" * 21


@dataclass(frozen=True)
class Keys:
    sandbox: str
    live: str

    def dotenv(self, extra: str = "") -> str:
        return f"AUTUMN_SECRET_KEY={self.sandbox}\nAUTUMN_PROD_SECRET_KEY={self.live}\n{extra}"


def mint_keys(server: AutumnServer) -> Keys:
    """A sandbox and a live key, minted through the real sign-in and /cli/api-keys."""
    token = sign_in(server)
    response = mint(server, token["access_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    return Keys(body["sandbox_key"], body["prod_key"])


def atmn(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    input: str | None = None,
    timeout: float = 60,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """The real `atmn` console script, with standard input closed unless `input` is given."""
    return subprocess.run(
        [ATMN, *args],
        cwd=cwd,
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )
