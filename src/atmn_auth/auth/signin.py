"""Signing in: authorize in the browser, choose the organization, mint a sandbox and a
live key. Returns the keys and writes nothing: `login` writes them to `.env`, recovery
hands them to `AutumnClient` to check first.

The calls, all through one `Session`: while the person is in the browser, the OAuth
metadata is read (which also opens the connection the token exchange will use, and says
which extensions the server has, §X); after the redirect, the code is exchanged, the
keys minted (for the organization chosen on the consent page), and then the OAuth tokens
revoked in the background (the CLI keeps none) while the keys' organization is asked for
with the new sandbox key (`/v1/organization/me`): three round trips on hosted Autumn and
on the stand-in alike. The organizations are listed (§2) only where the server offers
it and `--org` must be checked before anything is minted, or the server bound no
organization to the token.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atmn_auth.api import metadata as ext
from atmn_auth.api.autumn import Autumn, MintedKeys, Organization, OrganizationList
from atmn_auth.api.session import Session
from atmn_auth.errors import AtmnError, BackendError, UsageError
from atmn_auth.keyformat import redact
from atmn_auth.oauth import pkce
from atmn_auth.settings import CALLBACK_PORTS, Settings
from atmn_auth.term.browser import browser_unavailable_reason
from atmn_auth.term.console import Console, Opener
from atmn_auth.text import format_duration

if TYPE_CHECKING:
    from atmn_auth.loopback.callback import CallbackServer


@dataclass(frozen=True)
class SignInOptions:
    #: The organization the keys must be for (`--org`): the consent page preselects it,
    #: and an approval for another one creates nothing.
    org: str | None = None
    open_browser: bool = True
    timeout: float = 300.0
    #: Only preselected on the consent page (recovery's rejected key's organization).
    hint: str | None = None
    #: The device authorization flow (RFC 8628): True forces it, False the loopback
    #: redirect, None chooses by itself (the device flow where no browser can be opened
    #: here and the server offers it).
    device: bool | None = None
    #: What the minted keys are called (contract §7): `key_name(project)` for a login.
    key_name: str | None = None


@dataclass(frozen=True)
class SignedIn:
    """New keys, not written anywhere yet.

    `organization` is None when the server does not list organizations (the consent
    page chose); `received_at` is when the browser's redirect arrived (the flow's clock);
    `revoked` completes once the OAuth tokens are given back.
    """

    keys: MintedKeys
    organization: Organization | None
    received_at: float
    revoked: Future[None]
    #: What the server advertises (§X), as its metadata said during the sign-in.
    extensions: frozenset[str] = frozenset()


def sign_in(
    settings: Settings,
    session: Session,
    console: Console,
    *,
    environ: Mapping[str, str],
    options: SignInOptions,
    ports: Sequence[int] = CALLBACK_PORTS,
    clock: Callable[[], float] = time.monotonic,
) -> SignedIn:
    server = _device_server(settings, session, console, environ, options)
    if server is not None:
        return _sign_in_with_code(settings, session, console, environ, options, server, clock)
    return _sign_in_in_browser(settings, session, console, environ, options, ports, clock)


def _device_server(
    settings: Settings,
    session: Session,
    console: Console,
    environ: Mapping[str, str],
    options: SignInOptions,
) -> pkce.ServerInfo | None:
    """The server's endpoints when the sign-in should use a code (RFC 8628), else None:
    with `--device`, or where no browser can be opened here and the server offers it."""
    if options.device is False:
        return None
    reason = None if options.open_browser else "--no-browser/--headless was given"
    reason = reason or browser_unavailable_reason(environ)
    if options.device is None and reason is None:
        return None
    server = pkce.discover(settings, session)
    if server.device_authorization_endpoint is None:
        if options.device:
            raise UsageError(
                "--device: this server does not offer signing in with a code; drop --device"
            )
        return None
    if options.device is None:
        console.info(f"Signing in with a code instead of a browser here ({reason}).")
    return server


def _sign_in_with_code(
    settings: Settings,
    session: Session,
    console: Console,
    environ: Mapping[str, str],
    options: SignInOptions,
    server: pkce.ServerInfo,
    clock: Callable[[], float],
) -> SignedIn:
    from atmn_auth.oauth import device

    _say_no_preselection(server, options, console)
    hint = (options.org or options.hint) if server.offers(ext.ORGANIZATION_HINT) else None
    started = device.start(settings, session, server, organization=hint)
    code = started.user_code
    console.info("")
    console.info(f"    Your code:   {code}")
    console.info("")
    console.info(f"Open {started.verification_uri} on any device, sign in, and enter the code.")
    complete = started.verification_uri_complete
    if complete:
        console.info(f"Or open this address, which carries the code: {complete}")
    # The browser gets the address without the code: a command line is readable by every
    # user here, and whoever enters the code first decides whose keys these are.
    browser = options.open_browser and browser_unavailable_reason(environ) is None
    if browser and console.opener is not None and console.opener(started.verification_uri):
        console.info(f"Opened your browser at {started.verification_uri}; enter the code there.")
    if not console.live_updates:
        wait_for = format_duration(started.expires_in)
        console.info(f"Waiting up to {wait_for} for the code to be approved (Ctrl-C to cancel)…")
    try:
        tokens = device.poll(
            settings,
            session,
            server,
            started,
            tick=lambda left: console.live(_waiting(left, f"for you to approve {code}")),
        )
    finally:
        console.live(None)
    received_at = clock()
    _get_ready_for_two(settings, session, server, options)
    console.info("Approved. Finishing sign-in…")
    return _keys(settings, session, console, server, tokens, options, received_at)


def _sign_in_in_browser(
    settings: Settings,
    session: Session,
    console: Console,
    environ: Mapping[str, str],
    options: SignInOptions,
    ports: Sequence[int],
    clock: Callable[[], float],
) -> SignedIn:
    from atmn_auth.loopback.callback import CallbackServer

    state = pkce.new_state()
    with CallbackServer(state, ports=ports, report_outcome=True) as callback:
        console.debug(f"callback server on {callback.redirect_uri}")
        wanted = options.org or options.hint
        # The authorization URL comes from the issuer's metadata, and an organization to
        # preselect needs to know whether the server can: then read it first; else read it
        # while the person is in the browser.
        if settings.issuer or wanted:
            discovery: Future[pkce.ServerInfo] = Future()
            discovery.set_result(pkce.discover(settings, session, console.debug))
            _say_no_preselection(discovery.result(), options, console)
        else:
            discovery = session.submit(lambda: pkce.discover(settings, session, console.debug))
        client = pkce.PKCEClient(settings, session, callback.redirect_uri)
        endpoints = discovery.result() if discovery.done() else pkce.fixed_endpoints(settings)
        hint = wanted if endpoints.offers(ext.ORGANIZATION_HINT) else None
        request = client.authorization_request(endpoints, state, organization=hint)
        # The browser is opened on a single-use link of the callback server, never on the
        # URL itself: a command line is readable by every user here, and `state` with the
        # PKCE challenge is all another one needs to finish this sign-in as themselves.
        start = callback.start_link(request.url)
        _show_sign_in_url(request, start, environ, options, console, callback, discovery)
        try:
            result = callback.wait(
                options.timeout,
                paste_stream=console.paste_stream if console.interactive else None,
                on_rejected_paste=lambda why: console.info(f"{why.capitalize()}; still waiting."),
                failed=lambda: discovery.exception() if discovery.done() else None,
                tick=lambda left: console.live(_waiting(left, "for the browser")),
            )
        finally:
            console.live(None)
        received_at = clock()
        console.debug(f"callback received via {result.via}")
        try:
            server = discovery.result()
            _get_ready_for_two(settings, session, server, options)
            code = pkce.check_callback(result.params, request, server)
            console.info("Approved in the browser. Finishing sign-in…")
            tokens = client.exchange_code(server, request, code)
            client.close()
            console.debug("code exchanged for an access token")
            signed = _keys(settings, session, console, server, tokens, options, received_at)
        except AtmnError as exc:
            callback.finish(
                "Sign-in not completed",
                f"{html.escape(exc.message)}. Nothing was saved. Return to your terminal.",
            )
            raise
        chosen = signed.organization
        named = html.escape(chosen.label()) if chosen else "your organization"
        callback.finish(
            f"Signed in to {chosen.name}" if chosen else "Signed in",
            f"The Autumn CLI created a sandbox key and a live key for {named} and is "
            "saving them in your project. You can close this tab and return to your terminal.",
        )
    return signed


def _keys(
    settings: Settings,
    session: Session,
    console: Console,
    server: pkce.ServerInfo,
    tokens: pkce.Tokens,
    options: SignInOptions,
    received_at: float,
) -> SignedIn:
    """With the tokens: the keys and their organization; the tokens' revocation under way.

    The keys are minted for the organization the token is bound to (the consent page's
    choice); `--org` is checked against the organization list first where the server
    offers one (§2), else against the keys' own organization once they exist.
    """
    autumn = Autumn.of(settings, session, extensions=server.extensions)
    chosen: Organization | None = None
    try:  # from here on, whatever happens, no OAuth token is left valid on the server
        if options.org and autumn.offers(ext.ORGANIZATIONS):
            chosen = _organization_for(autumn.organizations(tokens.access_token), options, console)
        try:
            keys = autumn.mint_keys(
                tokens.access_token, org_id=chosen.id if chosen else None, name=options.key_name
            )
        except BackendError as exc:
            # A server that bound no organization to the token (§2 `bound_org_id` null)
            # needs to be told which one: choose it here, then mint for it.
            if exc.status != 400 or chosen is not None or not autumn.offers(ext.ORGANIZATIONS):
                raise
            organizations = autumn.organizations(tokens.access_token)
            chosen = choose_organization(organizations, options.org, console)
            if chosen is None or not autumn.offers(ext.MINT_ORG_ID):
                raise
            keys = autumn.mint_keys(tokens.access_token, org_id=chosen.id, name=options.key_name)
    except AtmnError:
        pkce.revoke_tokens(settings, server, tokens, session)
        raise
    console.debug(f"minted {redact(keys.sandbox_key)} and {redact(keys.live_key)}")
    revoked = session.submit(lambda: pkce.revoke_tokens(settings, server, tokens, session))
    if chosen is None:  # meanwhile: whose keys these are, and for whom (§4)
        chosen = autumn.organization_of(keys.sandbox_key)
        if options.org and chosen is not None and not chosen.matches(options.org):
            revoked.result()
            gone = autumn.revoke_quietly(keys)
            raise UsageError(
                f"you approved {chosen.label()} in the browser, but --org asked for "
                f"{options.org}; {settings.minted_for_nothing(gone, f'for {chosen.label()}')}. "
                f"Sign in again and choose {options.org} on the consent page, or drop --org"
            )
    return SignedIn(keys, chosen, received_at, revoked, server.extensions)


def _get_ready_for_two(
    settings: Settings, session: Session, server: pkce.ServerInfo, options: SignInOptions
) -> None:
    """While the code is exchanged and the keys minted, open the second connection that
    the grant's revocation and `/v1/organization/me` will need at once (`_keys`)."""
    if not (options.org and server.offers(ext.ORGANIZATIONS)):
        session.preconnect(settings.backend_url)


def _say_no_preselection(server: pkce.ServerInfo, options: SignInOptions, console: Console) -> None:
    """Before the browser opens: `--org` on a server that cannot preselect it (§X)."""
    if options.org and not server.offers(ext.ORGANIZATION_HINT):
        console.info(
            "This server cannot preselect an organization or check it before keys are made: "
            f"choose {options.org} on the consent page."
        )


def _organization_for(
    organizations: OrganizationList | None, options: SignInOptions, console: Console
) -> Organization | None:
    """The organization to mint for: the one the token is bound to (chosen on the consent
    page) when the server says; else chosen here (`choose_organization`). None leaves it
    to the server (one without §2 mints for the consent page's choice)."""
    if organizations is None:
        return None
    bound = organizations.bound
    if bound is None:
        return choose_organization(organizations, options.org, console)
    if options.org and not bound.matches(options.org):
        wanted = organizations.find(options.org)
        asked = wanted.label() if wanted else options.org
        raise UsageError(
            f"you approved {bound.label()} in the browser, but --org asked for {asked}; "
            f"nothing was created. Sign in again and choose {asked} on the consent page, "
            "or drop --org"
        )
    return bound


def _waiting(left: float, what: str) -> str:
    frame = _SPINNER[int(time.monotonic() * 10) % len(_SPINNER)]
    minutes, seconds = divmod(int(left + 0.999), 60)
    return f"{frame} Waiting {what}… {minutes}:{seconds:02d} left (Ctrl-C to cancel)"


_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def choose_organization(
    organizations: list[Organization] | None, wanted: str | None, console: Console
) -> Organization | None:
    """The organization to mint keys for; None means the one chosen on the consent page."""
    if organizations is None:
        if wanted:
            console.info(
                "This server does not list organizations; using the one chosen in the browser "
                f"(--org {wanted} is ignored)."
            )
        return None
    if not organizations:
        raise AtmnError("your account belongs to no organization; create one in Autumn first")
    slugs = ", ".join(org.slug or org.id or "?" for org in organizations)
    if wanted:
        for org in organizations:
            if org.matches(wanted):
                return org
        raise UsageError(f"--org {wanted}: you are not a member of it (yours: {slugs})")
    if len(organizations) == 1:
        return organizations[0]
    prompter = console.asks
    if prompter is not None:
        picked = prompter.select(
            "Which organization should these keys belong to?",
            [(org.label(), org.id or "") for org in organizations],
            None,
        )
        return next(org for org in organizations if org.id == picked)
    raise UsageError(f"you belong to several organizations ({slugs}); choose one with --org SLUG")


def _open(opener: Opener, url: str, arrived: threading.Event) -> bool:
    """`opener(url)`, but no longer than until the browser's redirect has `arrived`: a
    browser command that returns only when the browser exits must not hold up the rest
    of the sign-in (it counts as opened, since it got that far)."""
    outcome: Future[bool] = Future()

    def launch() -> None:
        try:
            outcome.set_result(opener(url))
        except BaseException as exc:  # handed to the waiting thread
            outcome.set_exception(exc)

    threading.Thread(target=launch, name="atmn-open", daemon=True).start()
    while not outcome.done():
        if arrived.wait(0.02):
            return True
    return outcome.result()


def _show_sign_in_url(
    request: pkce.AuthRequest,
    start: str,
    environ: Mapping[str, str],
    options: SignInOptions,
    console: Console,
    callback: CallbackServer,
    discovery: Future[pkce.ServerInfo],
) -> None:
    """Opens the browser on `start` (the callback server's single-use link to the sign-in
    URL) and prints the sign-in URL itself, opened or not: a terminal is no command line,
    and the printed URL is the one that works anywhere (over SSH, in a browser on another
    machine, after the link was used)."""
    url, port = request.url, callback.port
    reason = None if options.open_browser else "--no-browser/--headless was given"
    if reason is None:
        reason = browser_unavailable_reason(environ)
    opened = False
    if reason is None and console.opener is not None:
        opened = _open(console.opener, start, callback.flow.done)
        if not opened:
            reason = "the browser could not be started"
    if opened:
        console.info("Opened your browser to sign in to Autumn. If it did not open, visit:")
    else:
        console.info(f"Not opening a browser ({reason}). To sign in, open this URL in a browser:")
    console.info("")
    console.info(f"    {url}")
    console.info("")
    if not opened:
        console.info(
            f"The browser is sent back to http://localhost:{port}/ on this machine. If that page "
            "cannot load (for example over SSH), copy the full address from the browser's "
            "address bar and paste it here, or forward the port: ssh -L "
            f"{port}:localhost:{port} …"
        )
    if discovery.result().offers(ext.PAIRING_CODE):
        console.info(
            f"Pairing code: {pkce.pairing_code(request.state)} (the consent page shows the same)."
        )
    wait_for = format_duration(options.timeout)
    paste = " or for a pasted address" if console.interactive else ""
    if console.live_updates:  # the live line says the wait; say where a paste goes
        if console.interactive and opened:
            console.info("If the browser cannot come back to this machine, paste its address here.")
    else:
        console.info(f"Waiting up to {wait_for} for the browser{paste} (Ctrl-C to cancel)…")
