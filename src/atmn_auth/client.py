"""`AutumnClient` and `AsyncAutumnClient`: httpx2 clients for Autumn's API that recover from
a rejected key by themselves where a person can approve a new sign-in.

    from atmn_auth import AutumnClient

    with AutumnClient() as autumn:
        customers = autumn.get("/v1/customers").json()["list"]

The key is the one `atmn` itself reads (the process environment first, then the nearest
`.env`), sent as a Bearer token to the selected environment's backend and to nothing
else. When Autumn answers 401, `AutumnAuth` signs in again through the `atmn login`
sign-in (see `atmn_auth.auth.recovery`), stores the new keys in the `.env` the rejected key came
from, and replays the request once, body included. Threads (or tasks) that hit the same
401 together wait for that one sign-in and then retry with its key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2

from atmn_auth.api.autumn import ORGANIZATION_ME_PATH, Organization
from atmn_auth.api.session import USER_AGENT, server_message
from atmn_auth.auth import recovery
from atmn_auth.errors import AtmnError, MissingKeyError, OrganizationMismatch
from atmn_auth.keyformat import redact
from atmn_auth.settings import DEFAULT_TIMEOUT, Settings, load_settings

__all__ = [
    "AsyncAutumnClient",
    "AutumnAuth",
    "AutumnClient",
    "KeyRejectedError",
    "MissingKeyError",
    "OrganizationChangedError",
]


class KeyRejectedError(AtmnError, httpx2.HTTPStatusError):
    """Autumn answered 401 and the key could not be replaced; `response` is that answer."""

    def __init__(self, message: str, *, response: httpx2.Response) -> None:
        httpx2.HTTPStatusError.__init__(self, message, request=response.request, response=response)
        self.message = message


class OrganizationChangedError(KeyRejectedError):
    """The new sign-in is for another organization than the rejected key; nothing was kept."""


@dataclass(frozen=True)
class KeySource:
    """The key in use and where it came from (`path` is None for the process environment)."""

    var: str
    key: str
    source: str
    path: Path | None

    @property
    def from_environment(self) -> bool:
        return self.source == "environment" or self.path is None

    def where(self) -> str:
        return "the process environment" if self.from_environment else str(self.path)

    def __repr__(self) -> str:
        return f"KeySource(var={self.var!r}, key={redact(self.key)!r}, where={self.where()!r})"


def resolve_key_source(settings: Settings, *, cwd: Path, environ: Mapping[str, str]) -> KeySource:
    """The key `atmn` would use here; `MissingKeyError` when there is none."""
    from atmn_auth.envfiles.resolution import resolve_key

    resolution = resolve_key(settings.key_var, cwd=cwd, environ=environ)
    winner = resolution.winner
    if winner is None or not winner.value:
        raise MissingKeyError(
            f"{settings.key_var} is not set (looked in the process environment and the "
            f"nearest .env from {cwd}); run `{settings.login_command()}`"
        )
    return KeySource(var=settings.key_var, key=winner.value, source=winner.source, path=winner.path)


class _KeyKeeper:
    """The key in use, the organizations keys belong to, and the one-at-a-time recovery.

    Shared by every request of one client. `recover` is blocking and thread-safe; the
    async client runs it in a worker thread behind `async_lock`.
    """

    def __init__(
        self,
        settings: Settings,
        source: KeySource,
        *,
        cwd: Path,
        environ: Mapping[str, str],
        reauthenticator: recovery.Reauthenticator,
        allow_org_change: bool,
    ) -> None:
        self.settings = settings
        self.source = source
        self.cwd = cwd
        self.environ = environ
        self.reauthenticator = reauthenticator
        self.allow_org_change = allow_org_change
        self.backend = httpx2.URL(settings.backend_url)
        self._lock = threading.Lock()
        self._async_lock: anyio.Lock | None = None
        self._orgs: dict[str, Organization | None] = {}  # key -> org (None: cannot know)
        self._failures: dict[str, str] = {}  # key -> why recovering from it failed

    # ------------------------------------------------------------------ state

    @property
    def key(self) -> str:
        return self.source.key

    def applies_to(self, url: httpx2.URL) -> bool:
        """Only the backend gets the key, whatever absolute URL a caller passes."""
        return (url.scheme, url.host, url.port) == (
            self.backend.scheme,
            self.backend.host,
            self.backend.port,
        )

    def blocker(self) -> str | None:
        """Why a 401 cannot be recovered from at all here, or None."""
        if recovery.recovery_disabled(self.environ):
            return f"re-authentication is turned off ({recovery.DISABLE_VAR} is set)"
        if self.source.from_environment:
            return "it comes from the process environment"
        return self.reauthenticator.unavailable_reason()

    def wants_organization_of(self, key: str) -> bool:
        """Whether to ask Autumn which organization `key` belongs to before using it.

        A revoked key can no longer tell, so this is learnt at first use, and only when
        a recovery could happen and would need it.
        """
        if self.allow_org_change or key in self._orgs:
            return False
        return self.blocker() is None

    def organization_request(self, key: str) -> httpx2.Request:
        return httpx2.Request(
            "GET",
            self.backend.join(ORGANIZATION_ME_PATH),
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )

    def note_organization(self, key: str, response: httpx2.Response) -> None:
        if response.status_code == 200:
            try:
                data = response.json()
            except (ValueError, RecursionError):
                data = None
            self._orgs[key] = Organization.from_json(data) if isinstance(data, dict) else None
        elif response.status_code == 401:
            self._orgs[key] = None  # already rejected: its organization is gone with it
        # anything else (5xx, 404 from a server without it): ask again next time

    # ------------------------------------------------------------------ recovery

    def recover(self, sent_key: str, response: httpx2.Response) -> str:
        """A key to replay a request with after `sent_key` got `response` (a 401).

        Raises `KeyRejectedError` when there is none.
        """
        with self._lock:
            if self.source.key != sent_key:
                return self.source.key  # another thread already signed in again
            fresh = self._reread()
            if fresh is not None and fresh.key != sent_key:
                self.source = fresh  # the .env changed under us (`atmn login` elsewhere)
                return fresh.key
            if sent_key in self._failures:
                raise KeyRejectedError(self._failures[sent_key], response=response)
            try:
                return self._sign_in_again(sent_key, response)
            except KeyRejectedError as exc:
                self._failures[sent_key] = exc.message
                raise

    def give_up_on(self, key: str, message: str) -> None:
        with self._lock:
            self._failures[key] = message

    def async_lock(self) -> anyio.Lock:
        """Lets one task at a time wait in a worker thread for `recover` (made at first use,
        inside the event loop): the others wait here without holding a thread."""
        if self._async_lock is None:
            self._async_lock = anyio.Lock()
        return self._async_lock

    def _reread(self) -> KeySource | None:
        try:
            return resolve_key_source(self.settings, cwd=self.cwd, environ=self.environ)
        except AtmnError:
            return None

    def _rejected(self, response: httpx2.Response) -> str:
        return (
            f"the key was rejected (401): {self.source.var} ({redact(self.source.key)}) from "
            f"{self.source.where()} ({server_message(response)})"
        )

    def _sign_in_again(self, sent_key: str, response: httpx2.Response) -> str:
        rejected = self._rejected(response)
        login = self.settings.login_command()
        if recovery.recovery_disabled(self.environ):
            raise KeyRejectedError(
                f"{rejected}; re-authentication is turned off ({recovery.DISABLE_VAR}): "
                f"run `{login}`",
                response=response,
            )
        if self.source.from_environment:
            raise KeyRejectedError(
                f"{rejected}; it shadows any key in .env, so it cannot be replaced: "
                f"unset {self.source.var} or update it (`{login}` writes fresh keys to .env)",
                response=response,
            )
        assert self.source.path is not None
        reason = self.reauthenticator.unavailable_reason()
        if reason is not None:
            raise KeyRejectedError(
                f"{rejected}; {reason}: run `{login}`",
                response=response,
            )
        rejected_key = recovery.RejectedKey(
            settings=self.settings,
            var=self.source.var,
            key=sent_key,
            env_file=self.source.path,
            organization=self._orgs.get(sent_key),
            pin_organization=not self.allow_org_change,
        )
        try:
            fresh = recovery.replace_rejected_key(
                self.reauthenticator,
                rejected_key,
                self.environ,
                allow_org_change=self.allow_org_change,
            )
        except OrganizationMismatch as exc:
            raise OrganizationChangedError(exc.message, response=response) from exc
        except AtmnError as exc:
            raise KeyRejectedError(
                f"{rejected}, and signing in again failed: {exc.message}", response=response
            ) from exc
        key = fresh.key_for(self.settings)
        self._orgs[key] = fresh.organization
        self.source = KeySource(
            var=self.source.var, key=key, source=self.source.source, path=self.source.path
        )
        return key


def _rejected_again(keeper: _KeyKeeper, key: str, response: httpx2.Response) -> KeyRejectedError:
    error = KeyRejectedError(
        f"Autumn rejected the replacement {keeper.source.var} ({redact(key)}) too, with 401 "
        f"({server_message(response)}); run `{keeper.settings.login_command()}`",
        response=response,
    )
    keeper.give_up_on(key, error.message)  # no sign-in loop: later 401s on it raise at once
    return error


_AS_IS = httpx2.Auth()  # sends a request unchanged (the base class's flow)


def _from_backend_401(keeper: _KeyKeeper, response: httpx2.Response) -> bool:
    """A 401 that says the key is bad: from the backend itself, not from the host a
    redirect ended on (with `follow_redirects=True`), which never saw the key."""
    return response.status_code == 401 and keeper.applies_to(response.request.url)


class AutumnAuth(httpx2.Auth):
    """Bearer auth with the project's key that signs in again once on a 401.

    Only a 401 from the backend starts a recovery; every other answer and every
    network error reaches the caller untouched. The body is read up front so the
    request can be replayed.
    """

    requires_request_body = True

    def __init__(self, keeper: _KeyKeeper) -> None:
        self.keeper = keeper
        self._client: httpx2.Client | httpx2.AsyncClient | None = None

    def bind(self, client: httpx2.Client | httpx2.AsyncClient) -> None:
        """Lets the organization lookup go through `client` (its transport, proxies, TLS)
        as a request of its own, so that it never shows up in a response's `history`."""
        self._client = client

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        """The flow of both clients, written once; as in httpx's own `Auth` classes,
        `sync_auth_flow` and `async_auth_flow` only drive it, doing its I/O their way.

        It yields `request` (with the key, and once more with a fresh one after a 401)
        and, before that, may yield a lookup of the key's organization: any request other
        than `request` is that lookup, which a driver sends on its own through the bound
        client when that is of its kind (else as part of the flow). It looks into the
        lookup's answer and into a 401 from the backend, whose bodies the drivers read
        first. What it does after such a 401 to `request` (sign in again, or give up on a
        key: both wait for the keeper's lock) blocks.
        """
        keeper = self.keeper
        if not keeper.applies_to(request.url):
            yield request
            return
        key = keeper.key
        if keeper.wants_organization_of(key):
            keeper.note_organization(key, (yield keeper.organization_request(key)))
        request.headers["Authorization"] = f"Bearer {key}"
        response = yield request
        if not _from_backend_401(keeper, response):
            return
        fresh = keeper.recover(key, response)
        request.headers["Authorization"] = f"Bearer {fresh}"
        response = yield request
        if _from_backend_401(keeper, response):
            raise _rejected_again(keeper, fresh, response)

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        request.read()
        flow = self.auth_flow(request)
        step: httpx2.Request | None = next(flow)
        while step is not None:
            if step is not request and isinstance(self._client, httpx2.Client):
                response = self._client.send(step, auth=_AS_IS, follow_redirects=False)
            else:
                response = yield step
            if step is not request or _from_backend_401(self.keeper, response):
                response.read()  # the flow looks into it
            step = _advance(flow, response)

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        await request.aread()
        flow = self.auth_flow(request)
        step: httpx2.Request | None = next(flow)
        while step is not None:
            if step is not request and isinstance(self._client, httpx2.AsyncClient):
                response = await self._client.send(step, auth=_AS_IS, follow_redirects=False)
            else:
                response = yield step
            rejected = step is request and _from_backend_401(self.keeper, response)
            if step is not request or rejected:
                await response.aread()  # the flow looks into it
            if rejected:
                # The flow signs in again (or gives up on the key) next, which blocks: off
                # the event loop, one task at a time, so that the tasks rejected together
                # share one sign-in and a waiting task does not hold a thread.
                async with self.keeper.async_lock():
                    step = await anyio.to_thread.run_sync(
                        _advance, flow, response, abandon_on_cancel=True
                    )
            else:
                step = _advance(flow, response)


def _advance(
    flow: Generator[httpx2.Request, httpx2.Response], response: httpx2.Response
) -> httpx2.Request | None:
    """`flow`'s next request after `response`, or None when it is done (a StopIteration
    must not cross into a coroutine, or out of a worker thread)."""
    try:
        return flow.send(response)
    except StopIteration:
        return None


#: What says how to reach the server; given any of them, the caller decides the rest.
_NETWORK_ARGUMENTS = ("transport", "proxy", "mounts", "verify", "trust_env", "cert")


def _client_kwargs(
    keeper: _KeyKeeper, auth: AutumnAuth, timeout: Any, kwargs: dict[str, Any], *, sync: bool
) -> dict[str, Any]:
    headers = httpx2.Headers({"User-Agent": USER_AGENT, "Accept": "application/json"})
    headers.update(kwargs.pop("headers", None) or {})
    kwargs.setdefault("follow_redirects", False)  # a redirect must not carry the key away
    if not any(name in kwargs for name in _NETWORK_ARGUMENTS):
        # the CLI's network: the environment's proxies, but never for this machine (the
        # key must not cross a proxy to reach localhost), and its CA rules
        from atmn_auth.api.transport import AsyncNetworkTransport, NetworkTransport

        network = NetworkTransport if sync else AsyncNetworkTransport
        kwargs["transport"] = network(keeper.environ)
        kwargs["trust_env"] = False
    return {
        "base_url": keeper.settings.backend_url,
        "auth": auth,
        "timeout": timeout,
        "headers": headers,
        **kwargs,
    }


class _KeyedClient:
    """What both clients add to httpx2's: their constructor (documented on `AutumnClient`),
    and which settings and key they use. It comes first among their bases, so that its
    `__init__` takes the arguments and hands the rest to httpx2's."""

    _keeper: _KeyKeeper

    def __init__(
        self,
        *,
        prod: bool = False,
        local: bool = False,
        cwd: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        headless: bool = False,
        interactive: bool | None = None,
        reauthenticator: recovery.Reauthenticator | None = None,
        allow_org_change: bool = False,
        timeout: Any = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        assert isinstance(self, httpx2.Client | httpx2.AsyncClient)
        env: Mapping[str, str] = os.environ if environ is None else environ
        where = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
        settings = load_settings(prod=prod, local=local, environ=env)
        source = resolve_key_source(settings, cwd=where, environ=env)
        if reauthenticator is None:
            reauthenticator = recovery.LoginReauthenticator(
                cwd=where, environ=env, headless=headless, interactive=interactive
            )
        self._keeper = _KeyKeeper(
            settings,
            source,
            cwd=where,
            environ=env,
            reauthenticator=reauthenticator,
            allow_org_change=allow_org_change,
        )
        auth = AutumnAuth(self._keeper)
        sync = isinstance(self, httpx2.Client)
        super().__init__(**_client_kwargs(self._keeper, auth, timeout, kwargs, sync=sync))
        auth.bind(self)

    @property
    def settings(self) -> Settings:
        return self._keeper.settings

    @property
    def key_source(self) -> KeySource:
        """The key in use now and where it came from (it changes after a recovery)."""
        return self._keeper.source


class AutumnClient(_KeyedClient, httpx2.Client):
    """An `httpx2.Client` for the selected Autumn environment, signed in with its key.

    `prod`/`local` pick the key and the backend as `atmn -p`/`-l` do; `cwd` and `environ`
    are where the key is looked up (default: the current directory and `os.environ`).
    On a 401 it signs in again when a person can approve (a terminal, or
    `headless=True`), else raises `KeyRejectedError` at once. `interactive` overrides
    the terminal check; `reauthenticator` replaces the sign-in altogether. A sign-in
    into another organization is refused unless `allow_org_change=True`. Other keyword
    arguments go to `httpx2.Client`.
    """


class AsyncAutumnClient(_KeyedClient, httpx2.AsyncClient):
    """`AutumnClient` for async code: same arguments, an `httpx2.AsyncClient`.

    Concurrent tasks that hit the same 401 share one sign-in, which runs in a worker
    thread so that the event loop keeps going.
    """
