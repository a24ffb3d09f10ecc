"""A TLS-terminating front on 127.0.0.1 for a plain-HTTP server, with a test CA (trustme).

    with TLSFront(backend_port=server.port, directory=tmp_path) as front:
        env["SSL_CERT_FILE"] = str(front.ca_file)      # the test CA, PEM
        url = f"https://autumn.test:{front.port}"      # reached through a proxy mapping the name

The certificate it presents is for `autumn.test`, `localhost` and `127.0.0.1` (more names
with `names=`), issued by a CA made for this front alone: nothing trusts it unless told
to. Each accepted connection is decrypted and relayed byte for byte to
127.0.0.1:`backend_port` over one plain connection of its own, so HTTP keep-alive works
end to end. `handshakes` and `handshake_failures` count what happened at the TLS layer
(a client that refuses the certificate shows up as a failure here).
"""

from __future__ import annotations

import socket
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trustme

from .connect_proxy import IO_TIMEOUT, ThreadedListener, relay

DEFAULT_NAMES = ("autumn.test", "localhost", "127.0.0.1")
HANDSHAKE_TIMEOUT = 5.0


class TLSFront(ThreadedListener):
    name = "tls-front"

    def __init__(
        self,
        backend_port: int,
        *,
        names: Sequence[str] = DEFAULT_NAMES,
        directory: Path | None = None,
        backend_host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.names = tuple(names)
        self.ca = trustme.CA()
        self._server_cert = self.ca.issue_cert(*self.names)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="tls-front-")
            directory = Path(self._tempdir.name)
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(self.context)
        self.handshakes = 0
        self.handshake_failures = 0

    def start(self) -> TLSFront:
        super().start()
        return self

    def __enter__(self) -> TLSFront:
        return self.start()

    def stop(self) -> None:
        super().stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this front's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with self._lock:
                self.handshake_failures += 1
            return
        # wrap_socket detached `conn`: track the TLS socket so stop() can close it.
        self.track(tls)
        with self._lock:
            self.handshakes += 1
        try:
            tls.settimeout(IO_TIMEOUT)
            backend = socket.create_connection(
                (self.backend_host, self.backend_port), timeout=IO_TIMEOUT
            )
            self.track(backend)
            try:
                relay(tls, backend, stopping=self._stopping)
            finally:
                self.untrack(backend)
        finally:
            self.untrack(tls)
