"""Many calls rejected together share one sign-in, then all go through with its key."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2

from atmn_auth import AsyncAutumnClient, AutumnClient
from atmn_auth.keyformat import SANDBOX_VAR

from .helpers import Project, ScriptedOpener

CALLS = 10


def test_ten_threads_rejected_together_cause_one_sign_in(project: Project) -> None:
    opener = ScriptedOpener(project.server)
    start = threading.Barrier(CALLS)

    with AutumnClient(
        cwd=project.root, environ=project.environ, reauthenticator=project.reauthenticator(opener)
    ) as autumn:
        assert autumn.get("/v1/customers").status_code == 200
        project.revoke_keys()
        sign_ins = project.sign_ins()

        def call(_: int) -> httpx2.Response:
            start.wait()
            return autumn.get("/v1/customers")

        with ThreadPoolExecutor(CALLS) as pool:
            responses = list(pool.map(call, range(CALLS)))

    assert [r.status_code for r in responses] == [200] * CALLS
    assert all([h.status_code for h in r.history] == [401] for r in responses)
    assert project.sign_ins() == sign_ins + 1
    assert len(opener.opened) == 1
    sent = {r.request.headers["Authorization"] for r in responses}
    assert sent == {f"Bearer {project.keys()[SANDBOX_VAR]}"}


def test_ten_tasks_rejected_together_cause_one_sign_in(project: Project) -> None:
    opener = ScriptedOpener(project.server)

    async def calls() -> list[httpx2.Response]:
        async with AsyncAutumnClient(
            cwd=project.root,
            environ=project.environ,
            reauthenticator=project.reauthenticator(opener),
        ) as autumn:
            assert (await autumn.get("/v1/customers")).status_code == 200
            project.revoke_keys()
            return list(await asyncio.gather(*(autumn.get("/v1/customers") for _ in range(CALLS))))

    sign_ins = project.sign_ins()
    responses = asyncio.run(calls())

    assert [r.status_code for r in responses] == [200] * CALLS
    assert all([h.status_code for h in r.history] == [401] for r in responses)
    assert project.sign_ins() == sign_ins + 1
    assert len(opener.opened) == 1
    sent = {r.request.headers["Authorization"] for r in responses}
    assert sent == {f"Bearer {project.keys()[SANDBOX_VAR]}"}
