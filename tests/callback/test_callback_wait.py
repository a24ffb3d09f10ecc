"""wait(): the first result, a timeout, Ctrl-C, and a pasted address."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TextIO

import pytest

from atmn_auth.errors import CallbackTimeout
from atmn_auth.loopback.callback import CallbackServer
from atmn_auth.text import format_duration

from .helpers import CODE, STATE, Waiter, callback, free_ports


@pytest.fixture
def pipe() -> Iterator[tuple[TextIO, TextIO]]:
    """A (reader, writer) pair of text streams over a real pipe, as stdin would be."""
    r, w = os.pipe()
    with os.fdopen(r, "r") as reader, os.fdopen(w, "w") as writer:
        yield reader, writer


def test_wait_times_out(server: CallbackServer) -> None:
    with pytest.raises(CallbackTimeout) as caught:
        server.wait(0.3)
    assert str(caught.value) == "no answer from the browser within 0.3 seconds"
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5 minutes"),
        (90, "1 minute 30 seconds"),
        (60, "1 minute"),
        (1, "1 second"),
        (45, "45 seconds"),
        (0.3, "0.3 seconds"),
        (3600, "1 hour"),
    ],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_wait_returns_the_callback_that_arrives_while_waiting(server: CallbackServer) -> None:
    waiter = Waiter(server)
    assert callback(server.port).status == 200
    assert waiter.join().params["code"] == CODE


def test_ctrl_c_interrupts_wait_and_frees_the_port() -> None:
    ports = free_ports(1)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.get_ident()
    timer = threading.Timer(0.2, signal.pthread_kill, args=(main, signal.SIGINT))
    try:
        with pytest.raises(KeyboardInterrupt), CallbackServer(STATE, ports=ports) as server:
            timer.start()
            server.wait(60)
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", server.port))  # the `with` closed it on the way out


def test_a_pasted_url_settles_the_flow(
    server: CallbackServer, pipe: tuple[TextIO, TextIO], capfd: pytest.CaptureFixture[str]
) -> None:
    reader, writer = pipe
    writer.write(f"  http://localhost:{server.port}/?code={CODE}&state={STATE}&iss=x  \n")
    writer.flush()
    result = server.wait(5, paste_stream=reader)
    assert result.via == "paste"
    assert result.params == {"code": CODE, "state": STATE, "iss": "x"}
    out, err = capfd.readouterr()
    assert CODE not in out + err  # never echoed


def test_a_pasted_query_string_settles_the_flow(server: CallbackServer) -> None:
    stream = io.StringIO(f"?error=access_denied&state={STATE}\n")
    result = server.wait(5, paste_stream=stream)
    assert result.via == "paste"
    assert result.params == {"error": "access_denied", "state": STATE}


def test_a_pasted_url_from_another_sign_in_is_rejected(
    server: CallbackServer, pipe: tuple[TextIO, TextIO], capfd: pytest.CaptureFixture[str]
) -> None:
    reader, writer = pipe
    reasons: list[str] = []
    rejected = threading.Event()

    def on_rejected(reason: str) -> None:
        reasons.append(reason)
        if len(reasons) == 2:
            rejected.set()

    writer.write(f"http://localhost:{server.port}/?code=old-code&state=old-state\n")
    writer.write("hello there\n\n")
    writer.flush()
    waiter = Waiter(server, paste_stream=reader, on_rejected_paste=on_rejected)
    assert rejected.wait(5)
    with pytest.raises(CallbackTimeout):
        server.wait(0.01)  # still waiting
    assert callback(server.port).status == 200
    result = waiter.join()
    assert result.via == "browser"
    assert result.params["code"] == CODE
    assert reasons == [
        "that address is not from this sign-in",
        "that is not a sign-in address: paste the whole address from the browser",
    ]
    out, err = capfd.readouterr()
    assert "old-code" not in out + err + "".join(reasons)


def test_input_typed_after_the_wait_is_left_for_the_next_prompt(
    server: CallbackServer, pipe: tuple[TextIO, TextIO]
) -> None:
    reader, writer = pipe
    waiter = Waiter(server, paste_stream=reader)
    assert callback(server.port).status == 200
    assert waiter.join().via == "browser"
    # wait() has stopped reading the stream before returning
    assert not [t for t in threading.enumerate() if t.name == "atmn-callback-paste"]
    writer.write("acme\n")  # the answer to the organization prompt that comes next
    writer.flush()
    assert reader.readline() == "acme\n"


def test_a_paste_after_the_browser_changes_nothing(server: CallbackServer) -> None:
    assert callback(server.port).status == 200
    stream = io.StringIO(f"/?code=pasted&state={STATE}\n")
    result = server.wait(5, paste_stream=stream)
    assert result.via == "browser"
    assert result.params["code"] == CODE
