"""Helpers for the `atmn env` and `atmn logout` tests: minting keys on a real autumn-local,
settings pointing at it, and an output collector that checks no full key is printed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from atmn_auth.settings import Settings, load_settings
from support.autumn_server import AutumnServer
from support.oauth_flow import bearer, mint, sign_in


@dataclass(frozen=True)
class Minted:
    sandbox: str
    live: str
    org_id: str


def mint_keys(server: AutumnServer) -> Minted:
    """A sandbox and a live key, minted through the real sign-in and /cli/api-keys."""
    token = sign_in(server)
    response = mint(server, token["access_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    return Minted(body["sandbox_key"], body["prod_key"], body["org_id"])


def settings_for(url: str, *, prod: bool = False) -> Settings:
    return load_settings(prod=prod, local=False, environ={"ATMN_BACKEND_URL": url})


def me_status(server: AutumnServer, key: str) -> int:
    """What the stand-in answers to GET /v1/organization/me with `key`."""
    return httpx2.get(
        server.url + "/v1/organization/me", headers=bearer(key), timeout=10
    ).status_code


def org_of(server: AutumnServer, key: str) -> dict[str, Any]:
    response = httpx2.get(server.url + "/v1/organization/me", headers=bearer(key), timeout=10)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


class Output:
    """Collects what a command prints, and checks that no full key ever appears in it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def assert_no_secret(self, *secrets: str) -> None:
        for secret in secrets:
            assert secret not in self.text


def write_env(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".env"
    path.write_text(text)
    return path
