"""The `serve` console's request log: nothing a request chooses reaches it as control codes.

Any web page can make the browser of the person running `autumn-local serve` request
`http://localhost:8080/<anything>` (an <img> tag will do): the path must not put escape
sequences (terminal title, colours, cursor moves) or forged lines into the console.
"""

from __future__ import annotations

import socket

import httpx2

from autumn_local.logsafe import printable, printable_block, wsgi_text


def raw_request(server, request_line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request_line + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def new_log(server, offset: int) -> str:
    return server.log_text()[offset:]


def test_escape_sequences_in_a_path_are_logged_escaped(autumn_server):
    offset = len(autumn_server.log_text())
    # an OSC sequence setting the terminal's title, and a colour change
    response = httpx2.get(autumn_server.url + "/%1B]0;pwned%07/%1B[31mred%1B[0m")
    assert response.status_code == 404
    logged = new_log(autumn_server, offset)
    assert "\x1b" not in logged and "\x07" not in logged
    assert "GET /\\x1b]0;pwned\\x07/\\x1b[31mred\\x1b[0m 404" in logged


def test_cr_lf_in_a_path_cannot_forge_a_log_line(autumn_server):
    offset = len(autumn_server.log_text())
    forged = "/x%0D%0AGET%20/admin%20200%200.1ms%20conn=1%0D%0A"
    assert httpx2.get(autumn_server.url + forged).status_code == 404
    logged = new_log(autumn_server, offset)
    assert "\r" not in logged
    assert [line for line in logged.splitlines() if line.startswith("GET /admin")] == []
    assert "GET /x\\x0d\\x0aGET /admin 200 0.1ms conn=1\\x0d\\x0a 404" in logged


def test_raw_control_bytes_in_the_request_line_are_logged_escaped(autumn_server):
    offset = len(autumn_server.log_text())
    answer = raw_request(autumn_server, b"GET /\x1b[2J\x9b31m HTTP/1.1")
    assert answer.startswith(b"HTTP/1.1 404")
    logged = new_log(autumn_server, offset)
    assert "\x1b" not in logged and "\x9b" not in logged
    # ESC and the 8-bit CSI, each shown as an escape
    assert "GET /\\x1b[2J\\x9b31m 404" in logged


def test_a_right_to_left_override_in_a_path_is_logged_escaped(autumn_server):
    offset = len(autumn_server.log_text())
    assert httpx2.get(autumn_server.url + "/txt.%E2%80%AEexe").status_code == 404
    logged = new_log(autumn_server, offset)
    assert "\u202e" not in logged
    assert "GET /txt.\\u202eexe 404" in logged


def test_a_method_with_control_bytes_is_logged_escaped(autumn_server):
    offset = len(autumn_server.log_text())
    raw_request(autumn_server, b"G\x1bT / HTTP/1.1")
    logged = new_log(autumn_server, offset)
    assert "\x1b" not in logged


def test_not_utf8_and_backslashes_are_shown_unambiguously():
    assert wsgi_text("/caf\xc3\xa9") == "/café"
    assert wsgi_text("/\xff\xfe") == "/\\xff\\xfe"
    assert printable("a\\x1b") == "a\\\\x1b"  # a typed backslash is not an escape
    assert printable("plain /path?x=1") == "plain /path?x=1"


def test_a_traceback_is_indented_and_escaped_line_by_line():
    trace = "Traceback (most recent call last):\nValueError: bad\x1b]0;x\x07\nGET /forged 200"
    block = printable_block(trace)
    assert "\x1b" not in block
    assert all(line.startswith("  ") for line in block.splitlines())
