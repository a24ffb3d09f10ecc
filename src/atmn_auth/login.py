"""The `atmn login` flow: sign in through the browser, pick an organization, mint keys,
write them to the nearest `.env`. Every input comes in as an argument.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from atmn_auth.backend import MintedKeys, Organization, list_organizations, mint_keys
from atmn_auth.browser import Opener, browser_unavailable_reason
from atmn_auth.config import CALLBACK_PORTS, Settings
from atmn_auth.errors import AtmnError, UsageError
from atmn_auth.keys import LIVE_VAR, SANDBOX_VAR, key_kind
from atmn_auth.prompts import Prompter
from atmn_auth.redact import redact


@dataclass(frozen=True)
class LoginOptions:
    env_file: Path | None = None
    org: str | None = None
    open_browser: bool = True
    timeout: float = 300.0
    force: bool = False
    #: The keys the new ones replace in the file: True revokes them, False keeps them,
    #: None asks on a terminal and keeps them elsewhere (they may be in use elsewhere).
    revoke_replaced: bool | None = None


def _ignore(_: str) -> None:
    return None


@dataclass
class Console:
    """Where the flow talks and listens; the CLI passes the terminal, tests pass their own."""

    info: Callable[[str], None]
    interactive: bool
    prompter: Prompter | None = None
    opener: Opener | None = None
    paste_stream: TextIO | None = None
    debug: Callable[[str], None] = field(default=_ignore)


@dataclass(frozen=True)
class LoginResult:
    env_file: Path
    organization: Organization | None
    keys: MintedKeys
    created_file: bool
    #: Autumn keys the new ones replaced in the file, and what became of each:
    #: "revoked", "already_invalid", "unsupported", "failed" or "kept".
    replaced: dict[str, str] = field(default_factory=dict)


class AlreadySignedIn(AtmnError):
    """The user chose to keep the key that already works."""

    exit_code = 0


def run_login(
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    options: LoginOptions,
    console: Console,
    ports: Sequence[int] = CALLBACK_PORTS,
    clock: Callable[[], float] = time.monotonic,
) -> LoginResult:
    from atmn_auth import envfile

    target = options.env_file if options.env_file is not None else envfile.find_env_file(cwd)
    envfile.ensure_writable(target)
    if not options.force:
        _check_existing_key(settings, target, console)

    from atmn_auth import oauth
    from atmn_auth.callback import CallbackServer

    state = oauth.new_state()
    with CallbackServer(state, ports=ports) as callback:  # first: fail at once when taken
        server = oauth.discover(settings)
        request = oauth.start_authorization(settings, server, callback.redirect_uri, state)
        console.debug(f"callback server on {callback.redirect_uri}")
        _show_sign_in_url(request.url, environ, options, console, callback.port)
        result = callback.wait(
            options.timeout,
            paste_stream=console.paste_stream if console.interactive else None,
            on_rejected_paste=lambda reason: console.info(f"{reason.capitalize()}; still waiting."),
        )
    started = clock()
    console.debug(f"callback received via {result.via}")
    code = oauth.check_callback(result.params, request, server)
    console.info("Approved in the browser. Finishing sign-in…")
    tokens = oauth.exchange_code(settings, server, request, code)
    console.debug("code exchanged for an access token")

    try:  # from here on, whatever happens, no OAuth token is left valid on the server
        organizations = list_organizations(settings.backend_url, tokens.access_token)
        chosen = choose_organization(organizations, options.org, console)
        keys = mint_keys(
            settings.backend_url, tokens.access_token, org_id=chosen.id if chosen else None
        )
        console.debug(f"minted {redact(keys.sandbox_key)} and {redact(keys.live_key)}")
        try:
            update = envfile.update_env_file(
                target, set_values={SANDBOX_VAR: keys.sandbox_key, LIVE_VAR: keys.live_key}
            )
        except AtmnError as exc:
            _revoke_quietly(settings.backend_url, keys)
            raise AtmnError(f"{exc.message} (the keys just minted were revoked)") from None
    except AtmnError:
        oauth.revoke_tokens(settings, server, tokens)
        raise
    console.debug(f".env written {1000 * (clock() - started):.1f} ms after the callback")
    oauth.revoke_tokens(settings, server, tokens)  # the CLI keeps no OAuth token

    if chosen is None:
        chosen = _organization_of(settings.backend_url, keys.sandbox_key)
    replaced = _settle_replaced(settings, update.previous_all, keys, options, console)
    return LoginResult(
        env_file=update.path,
        organization=chosen,
        keys=keys,
        created_file=update.created,
        replaced=replaced,
    )


def _settle_replaced(
    settings: Settings,
    previous: Mapping[str, list[str]],
    keys: MintedKeys,
    options: LoginOptions,
    console: Console,
) -> dict[str, str]:
    """Revokes (or keeps, as asked) the Autumn keys the new ones replaced in the file.

    A key left in no file but alive on the server is how keys leak; one copied into a
    deployment is still needed. So: revoke when told to, ask on a terminal, keep otherwise.
    """
    from atmn_auth import keyapi

    new = {keys.sandbox_key, keys.live_key}
    old = list(
        dict.fromkeys(
            value
            for values in previous.values()
            for value in values
            if key_kind(value) is not None and value not in new
        )
    )
    if not old:
        return {}
    revoke = options.revoke_replaced
    prompter = console.prompter if console.interactive else None
    if revoke is None and prompter is not None:
        shown = ", ".join(redact(key) for key in old)
        revoke = prompter.confirm(
            f"Revoke the keys this replaced ({shown})? Say no if they are used elsewhere.",
            True,
        )
    outcome: dict[str, str] = {}
    for key in old:
        if not revoke:
            outcome[key] = "kept"
            continue
        try:
            outcome[key] = keyapi.revoke_key(settings.backend_url, key, timeout=5.0)
        except AtmnError:
            outcome[key] = "failed"
    return outcome


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
    slugs = ", ".join(org.slug for org in organizations)
    if wanted:
        folded = wanted.casefold()
        for org in organizations:
            if wanted == org.id or folded == org.slug.casefold():
                return org
        raise UsageError(f"--org {wanted}: you are not a member of it (yours: {slugs})")
    if len(organizations) == 1:
        return organizations[0]
    if console.interactive and console.prompter is not None:
        picked = console.prompter.select(
            "Which organization should these keys belong to?",
            [(org.label(), org.id) for org in organizations],
            None,
        )
        return next(org for org in organizations if org.id == picked)
    raise UsageError(f"you belong to several organizations ({slugs}); choose one with --org SLUG")


def _show_sign_in_url(
    url: str,
    environ: Mapping[str, str],
    options: LoginOptions,
    console: Console,
    port: int,
) -> None:
    from atmn_auth.callback import format_duration

    reason = None if options.open_browser else "--no-browser/--headless was given"
    if reason is None:
        reason = browser_unavailable_reason(environ)
    opened = False
    if reason is None and console.opener is not None:
        opened = console.opener(url)
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
    wait_for = format_duration(options.timeout)
    paste = " or for a pasted address" if console.interactive else ""
    console.info(f"Waiting up to {wait_for} for the browser{paste} (Ctrl-C to cancel)…")


def _check_existing_key(settings: Settings, target: Path, console: Console) -> None:
    """Says when `target` already holds a key the server accepts; on a terminal asks first."""
    from atmn_auth import envfile

    try:
        current = envfile.read_env(target).get(settings.key_var)
    except AtmnError:
        return
    if not current or key_kind(current) != settings.kind:
        return
    from atmn_auth import keyapi

    try:
        info = keyapi.organization_me(settings.backend_url, current, timeout=5.0)
    except AtmnError:
        return
    console.info(
        f"{settings.key_var} in {target} ({redact(current)}) already works for "
        f"{info.name} ({info.slug})."
    )
    prompter = console.prompter if console.interactive else None
    if prompter is not None and not prompter.confirm("Sign in again and replace both keys?", False):
        raise AlreadySignedIn("kept the keys you have; nothing was changed")


def _organization_of(backend_url: str, key: str) -> Organization | None:
    from atmn_auth import keyapi

    try:
        info = keyapi.organization_me(backend_url, key, timeout=5.0)
    except AtmnError:
        return None
    return Organization(id=info.id or "", name=info.name, slug=info.slug)


def _revoke_quietly(backend_url: str, keys: MintedKeys) -> None:
    from atmn_auth import keyapi

    for key in (keys.sandbox_key, keys.live_key):
        with contextlib.suppress(AtmnError):
            keyapi.revoke_key(backend_url, key)
