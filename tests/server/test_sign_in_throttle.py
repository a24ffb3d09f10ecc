"""Failed sign-ins are throttled per account, and per browser session on loopback (per
address for other clients: test_throttle_remote.py); password hashing is bounded.

Each password check is a ~16 MiB scrypt: without a bound, parallel sign-in attempts grew
the server from 67 to 514 MiB. They now queue for a pool of 2, and an account or browser
session (address) that failed too often is refused (429) before any password is checked.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from autumn_local.secrets_util import HASH_SLOTS, HashPool
from support.scripted_browser import parse_forms

WINDOW = 4.0
LIMIT = 3
TOO_MANY = re.compile(r"Too many failed sign-ins; try again in (\d+) seconds?\.")


def browser(server, address: str = "127.0.0.1") -> httpx2.Client:
    """A browser connecting from `address` (any of 127.0.0.0/8)."""
    return httpx2.Client(base_url=server.url, transport=httpx2.HTTPTransport(local_address=address))


def attempt(client: httpx2.Client, email: str, password: str) -> httpx2.Response:
    form = parse_forms(client.get("/sign-in").text)[0]
    return client.post("/sign-in", data={**form.fields, "email": email, "password": password})


def refused_for(response: httpx2.Response) -> int:
    """The seconds the page says to wait (429), checking the page says so."""
    assert response.status_code == 429, response.status_code
    match = TOO_MANY.search(response.text)
    assert match, response.text
    assert int(response.headers["retry-after"]) == int(match[1])
    assert 'id="email"' in response.text  # still the sign-in page, to try again later
    return int(match[1])


@pytest.fixture
def server(start_autumn_server):
    return start_autumn_server(sign_in_limit=LIMIT, sign_in_window=WINDOW)


def test_after_too_many_failures_even_the_right_password_waits_for_the_window(server):
    with browser(server) as client:
        for _ in range(LIMIT):
            assert attempt(client, server.email, "wrong").status_code == 401
        blocked = attempt(client, server.email, server.password)
        assert 1 <= refused_for(blocked) <= WINDOW
        assert "Signed in as" not in client.get("/").text

        time.sleep(WINDOW + 0.2)
        signed_in = attempt(client, server.email, server.password)
        assert signed_in.status_code == 302
        assert "Signed in as" in client.get("/").text


def test_failures_count_per_account_whatever_the_address(server):
    with browser(server, "127.0.0.1") as first:
        for _ in range(LIMIT):
            attempt(first, server.email, "wrong")
    with browser(server, "127.0.0.2") as elsewhere:
        refused_for(attempt(elsewhere, server.email, server.password))
        # another account from that address is not affected
        server.admin("users", "add", "other@autumn.local", "--password", "pw-other", check=True)
        assert attempt(elsewhere, "other@autumn.local", "pw-other").status_code == 302


def test_on_loopback_failures_count_per_browser_session_not_per_address(server):
    """Every local process is 127.0.0.1: counting per address there would let any of them
    lock every local user out. A browser session that failed too often is held back; another
    browser on the same address is not (the per-address count for other addresses:
    test_throttle_remote.py)."""
    with browser(server, "127.0.0.1") as guesser:
        for n in range(LIMIT):  # unknown accounts count as much as known ones
            assert attempt(guesser, f"nobody{n}@example.com", "guess").status_code == 401
        refused_for(attempt(guesser, server.email, server.password))
        with browser(server, "127.0.0.1") as person:
            assert attempt(person, server.email, server.password).status_code == 302
            assert "Signed in as" in person.get("/").text
        refused_for(attempt(guesser, server.email, server.password))  # still held back


def test_a_local_process_guessing_other_accounts_never_locks_the_demo_user_out(server):
    """A process that fails sign-ins from fresh sessions (each its own cookie), ten times
    the limit, with accounts that are not the demo user's."""
    for n in range(LIMIT * 10):
        with browser(server, "127.0.0.1") as process:
            assert attempt(process, f"nobody{n % 3}@example.com", "guess").status_code in (401, 429)
    with browser(server, "127.0.0.1") as person:
        assert attempt(person, server.email, server.password).status_code == 302
        assert "Signed in as" in person.get("/").text


def test_successful_sign_ins_do_not_count(server):
    for _ in range(LIMIT + 2):
        with browser(server) as client:
            assert attempt(client, server.email, server.password).status_code == 302


def test_parallel_guesses_cannot_get_past_the_limit(server):
    with browser(server) as client:
        form = parse_forms(client.get("/sign-in").text)[0]

        def guess(n: int) -> int:
            data = {**form.fields, "email": server.email, "password": f"guess-{n}"}
            return client.post("/sign-in", data=data).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(guess, range(16)))
    assert statuses.count(401) == LIMIT  # only LIMIT passwords were checked
    assert statuses.count(429) == 16 - LIMIT


def test_the_hash_pool_runs_at_most_two_hashes_at_once():
    pool = HashPool()
    assert pool.slots == HASH_SLOTS == 2
    barrier = threading.Barrier(12)

    def work(n: int) -> bytes:
        barrier.wait()
        return pool.scrypt(f"password-{n}", b"s" * 16)

    with ThreadPoolExecutor(max_workers=12) as threads:
        digests = list(threads.map(work, range(12)))
    assert len(set(digests)) == 12
    assert pool.peak == 2 and pool.running == 0


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024


def test_64_parallel_sign_ins_do_not_grow_the_server_by_more_than_the_pool(
    start_autumn_server,
):
    server = start_autumn_server(sign_in_limit=1000)
    with browser(server) as client:
        form = parse_forms(client.get("/sign-in").text)[0]
        assert attempt(client, server.email, "warm-up").status_code == 401
        before = peak_rss_mib(server.pid)

        def guess(n: int) -> int:
            data = {**form.fields, "email": server.email, "password": f"guess-{n}"}
            with httpx2.Client(base_url=server.url, cookies=client.cookies) as one:
                return one.post("/sign-in", data=data, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=64) as pool:
            statuses = list(pool.map(guess, range(64)))
    assert statuses == [401] * 64
    growth = peak_rss_mib(server.pid) - before
    # unbounded: 64 x 16 MiB of scrypt (measured +447 MiB); bounded: 2 x 16 MiB and threads
    assert growth < 80, f"peak RSS grew by {growth:.0f} MiB"
