"""`autumn-local`: run the stand-in server and look after its accounts and keys."""

from __future__ import annotations

import importlib
import json
import signal
import sqlite3
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar, Unpack

import click

from . import __version__, apikeys, store
from .config import (
    DEFAULT_ACCESS_TOKEN_TTL,
    DEFAULT_CODE_TTL,
    DEFAULT_DEVICE_INTERVAL,
    DEFAULT_DEVICE_PENDING_LIMIT,
    DEFAULT_DEVICE_REQUEST_LIMIT,
    DEFAULT_DEVICE_REQUEST_WINDOW,
    DEFAULT_DEVICE_TTL,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SIGN_IN_LIMIT,
    DEFAULT_SIGN_IN_WINDOW,
    FEATURES,
    HOSTED_ACCESS_TOKEN_TTL,
    HOSTED_CODE_TTL,
    Limits,
    default_data_dir,
)
from .db import connect
from .logsafe import printable

Command = TypeVar("Command", bound=Callable[..., Any])
Record = TypeVar("Record")

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: the user data directory for autumn-local).",
)

#: `serve`'s options for the `Limits` (each passed on to `server.build` under its name):
#: flag, default, type and help, in the order `--help` lists them.
LIMIT_OPTIONS = (
    (
        "--device-ttl",
        DEFAULT_DEVICE_TTL,
        click.IntRange(1),
        "Device code (RFC 8628) lifetime, seconds.",
    ),
    (
        "--device-interval",
        DEFAULT_DEVICE_INTERVAL,
        click.IntRange(1),
        "Device code polling interval, seconds.",
    ),
    (
        "--sign-in-limit",
        DEFAULT_SIGN_IN_LIMIT,
        click.IntRange(1),
        "Failed sign-ins allowed per account, and per browser session (loopback clients) or"
        " per address (others), within --sign-in-window.",
    ),
    (
        "--sign-in-window",
        DEFAULT_SIGN_IN_WINDOW,
        click.FloatRange(0.1),
        "Seconds over which failed sign-ins are counted.",
    ),
    (
        "--device-request-limit",
        DEFAULT_DEVICE_REQUEST_LIMIT,
        click.IntRange(1),
        "Device authorization requests (RFC 8628) stored per client address within"
        " --device-request-window; more get 429 slow_down.",
    ),
    (
        "--device-request-window",
        DEFAULT_DEVICE_REQUEST_WINDOW,
        click.FloatRange(0.1),
        "Seconds over which device authorization requests are counted.",
    ),
    (
        "--device-pending-limit",
        DEFAULT_DEVICE_PENDING_LIMIT,
        click.IntRange(1),
        "Device requests that may wait for approval at once, from all clients; more get"
        " 503 temporarily_unavailable.",
    ),
)


def limit_options(command: Command) -> Command:
    """Add the LIMIT_OPTIONS to a command, in their order."""
    for flag, default, kind, help_text in reversed(LIMIT_OPTIONS):
        command = click.option(flag, default=default, show_default=True, type=kind, help=help_text)(
            command
        )
    return command


@contextmanager
def database(data_dir: Path | None) -> Iterator[sqlite3.Connection]:
    """The seeded database, closed after the block; a `store.StoreError` the block raises
    (no such organization, an email taken, ...) ends the command with its message."""
    conn = connect(data_dir or default_data_dir())
    try:
        store.seed(conn)
        yield conn
    except store.StoreError as exc:
        fail(str(exc))
    finally:
        conn.close()


def fail(message: str) -> NoReturn:
    click.echo(f"autumn-local: {message}", err=True)
    sys.exit(1)


# The server runs on Flask and werkzeug, which come with the `local` extra only: a plain
# `pip install atmn-auth` gives the `atmn` CLI and the admin commands without them.
SERVER_REQUIRES = ("flask", "werkzeug")
INSTALL_HINT = (
    "error: the local server needs Flask: pip install 'atmn-auth[local]' "
    "(or: pipx inject atmn-auth flask / uv tool install 'atmn-auth[local]')"
)


def require_server_libraries() -> None:
    """Exit 1 with one line saying how to install Flask when it (or werkzeug) is missing.

    Every command that serves calls this before importing `.server` or `.app`.
    """
    for name in SERVER_REQUIRES:
        try:
            importlib.import_module(name)
        except ImportError:
            fail(INSTALL_HINT)


@click.group()
@click.version_option(__version__, prog_name="autumn-local")
def main() -> None:
    """A local stand-in for Autumn's sign-in and API-key server."""


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@data_option
@click.option(
    "--issuer",
    default=None,
    help=(
        "Issuer URL (default: http://localhost:PORT). With --hosted, the backend URL:"
        " the OAuth issuer is then ISSUER/api/auth, as hosted Autumn's is."
    ),
)
@click.option(
    "--code-ttl",
    default=None,
    type=float,
    help=(
        f"Authorization code lifetime, seconds [default: {DEFAULT_CODE_TTL:g},"
        f" or {HOSTED_CODE_TTL:g} with --hosted]."
    ),
)
@click.option(
    "--access-token-ttl",
    default=None,
    type=click.IntRange(1),
    help=(
        f"Access token lifetime, seconds [default: {DEFAULT_ACCESS_TOKEN_TTL},"
        f" or {HOSTED_ACCESS_TOKEN_TTL} with --hosted]."
    ),
)
@limit_options
@click.option(
    "--disable",
    "disabled",
    multiple=True,
    type=click.Choice(FEATURES),
    help=(
        "Turn off an extension, to behave like hosted Autumn (repeatable): organizations"
        " (GET /cli/organizations), metadata (RFC 8414 document), iss (RFC 9207), revoke-key"
        " (DELETE /cli/api-keys/current), bind (tokens bound to the consent page's"
        " organization), device (RFC 8628), keys (listing and revoking keys by id, and"
        " naming minted keys: a mint body with `name` is refused as an unknown field)."
    ),
)
@click.option(
    "--hosted",
    is_flag=True,
    help=(
        "Answer exactly as hosted Autumn does (api.useautumn.com): its metadata document"
        " with issuer ISSUER/api/auth, no extensions (every /cli route but the key mint"
        " answers 401), no device flow, no refresh tokens, its consent page and error"
        " bodies. --disable metadata and --disable iss still apply."
    ),
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    issuer: str | None,
    code_ttl: float | None,
    access_token_ttl: int | None,
    disabled: tuple[str, ...],
    hosted: bool,
    **limits: Unpack[Limits],
) -> None:
    """Serve the sign-in pages, OAuth endpoints and API until Ctrl-C."""
    require_server_libraries()
    from .server import build

    try:
        running = build(
            data_dir or default_data_dir(),
            host=host,
            port=port,
            issuer=issuer.rstrip("/") if issuer else None,
            code_ttl=code_ttl,
            access_token_ttl=access_token_ttl,
            disabled=disabled,
            hosted=hosted,
            **limits,
        )
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(running.banner())
    if host not in ("127.0.0.1", "localhost", "::1"):
        from .app import HTTP_ONLY_ON_LOOPBACK

        click.echo(
            f"warning: listening on {host}, not only on this machine's loopback. "
            f"{HTTP_ONLY_ON_LOOPBACK}",
            err=True,
        )
    profile = running.profile_line()
    if profile:
        click.echo(profile)
    if disabled:
        click.echo(f"extensions disabled: {', '.join(sorted(disabled))}")
    sys.stdout.flush()
    try:
        running.serve_forever()
    finally:
        running.wsgi_server.server_close()
        click.echo("autumn-local stopped")


@main.command("demo-user")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def demo_user(data_dir: Path | None, as_json: bool) -> None:
    """Print the demo account's email and password."""
    with database(data_dir) as conn:
        demo = store.demo_account(conn)
    if as_json:
        click.echo(json.dumps({"email": demo.email, "password": demo.password}))
    else:
        click.echo(f"email:    {demo.email}\npassword: {demo.password}")


@main.command()
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--timeout", default=2.0, show_default=True, type=float)
def ping(port: int, timeout: float) -> None:
    """Exit 0 when an autumn-local server answers on 127.0.0.1:PORT, 1 otherwise."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        click.echo(f"no autumn-local server on 127.0.0.1:{port}", err=True)
        sys.exit(1)
    if body.get("service") != "autumn-local":
        click.echo(f"something else answers on 127.0.0.1:{port}", err=True)
        sys.exit(1)
    click.echo(f"autumn-local is up on 127.0.0.1:{port} (issuer {body.get('issuer')})")


@main.group()
def users() -> None:
    """Manage users."""


@main.group()
def orgs() -> None:
    """Manage organizations."""


def add_command(
    group: click.Group,
    help_text: str,
    *,
    argument: str,
    required: tuple[str, str],
    members: tuple[str, str],
    add: Callable[[sqlite3.Connection, str, str, list[str]], Record],
    added: Callable[[Record], str],
) -> None:
    """Give `group` its `add` command: ARGUMENT, a `required` option and a repeatable one for
    the other side of the new record's memberships (each a flag and its help), stored by
    `add`, then `added ...` printed."""

    @group.command("add", help=help_text)
    @click.argument("key", metavar=argument)
    @click.option(required[0], "detail", required=True, help=required[1])
    @click.option(members[0], "members", multiple=True, help=members[1])
    @data_option
    def command(key: str, detail: str, members: tuple[str, ...], data_dir: Path | None) -> None:
        with database(data_dir) as conn:
            record = add(conn, key, detail, list(members))
        click.echo(f"added {added(record)}")


add_command(
    users,
    "Add a user, optionally as a member of organizations.",
    argument="EMAIL",
    required=("--password", "The new user's password."),
    members=("--org", "Slug of an organization to join (repeatable)."),
    add=store.add_user,
    added=lambda user: f"user {user.email} ({user.id})",
)
add_command(
    orgs,
    "Add an organization, optionally with members.",
    argument="SLUG",
    required=("--name", "Display name."),
    members=("--member", "Email of a member (repeatable)."),
    add=store.add_org,
    added=lambda org: f"organization {org.slug} ({org.id})",
)


@main.group()
def keys() -> None:
    """List and revoke secret keys (shown redacted: prefix and last 4)."""


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_option
def keys_list(as_json: bool, data_dir: Path | None) -> None:
    """List every key minted, newest last."""
    with database(data_dir) as conn:
        all_keys = apikeys.list_keys(conn)
    if as_json:
        click.echo(json.dumps([k.as_json() for k in all_keys], indent=2))
        return
    if not all_keys:
        click.echo("no keys")
    for k in all_keys:
        d = k.as_json()
        state = f"revoked {d['revoked_at']}" if k.revoked_at else "active"
        click.echo(
            f"{k.id}  {k.redacted}  {k.env:7}  {k.org_slug:12}  {d['created_at']}"
            f"  {k.created_via:9}  {state}  {printable(k.name)}"
        )


@keys.command("create")
@click.option("--org", "org_slug", required=True, help="Slug of the key's organization.")
@click.option("--env", type=click.Choice(apikeys.ENVS), default="sandbox", show_default=True)
@click.option("--name", default="Dashboard key", show_default=True, help="The key's name.")
@click.option(
    "--via",
    "created_via",
    type=click.Choice(apikeys.CREATED_VIA),
    default="dashboard",
    show_default=True,
    help="Record the key as made on the dashboard or by the CLI's sign-in.",
)
@click.option("--email", default=None, help="The member it is made by (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_option
def keys_create(
    org_slug: str,
    env: apikeys.Env,
    name: str,
    created_via: apikeys.CreatedVia,
    email: str | None,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Make one key as Autumn's dashboard does, and print it once."""
    problem = apikeys.name_problem(name)
    if problem is not None:
        fail(problem)
    with database(data_dir) as conn:
        org, user = store.org_and_member(conn, org_slug, email)
        key_id, secret = apikeys.create_key(
            conn, org_id=org.id, user_id=user.id, env=env, name=name, created_via=created_via
        )
    if as_json:
        click.echo(json.dumps({"id": key_id, "key": secret, "env": env, "org_id": org.id}))
    else:
        click.echo(f"{key_id}  {env}  {org.slug}\n{secret}")


@keys.command("revoke")
@click.argument("key_id", required=False)
@click.option("--last4", default=None, help="Revoke the active keys ending in these 4 characters.")
@click.option("--all", "everything", is_flag=True, help="Revoke every active key.")
@data_option
def keys_revoke(
    key_id: str | None, last4: str | None, everything: bool, data_dir: Path | None
) -> None:
    """Revoke keys: one by id, by their last 4 characters, or all."""
    if sum((key_id is not None, last4 is not None, everything)) != 1:
        raise click.UsageError("give exactly one of KEY_ID, --last4 or --all")
    with database(data_dir) as conn:
        count = apikeys.revoke_keys(conn, key_id=key_id, last4=last4, everything=everything)
    if count == 0 and not everything:
        fail("no matching active key")
    click.echo(f"revoked {count} key{'s' if count != 1 else ''}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_option
def stats(as_json: bool, data_dir: Path | None) -> None:
    """Counts: authorizations granted, tokens issued, key pairs minted, keys revoked."""
    with database(data_dir) as conn:
        counts = store.stats(conn)
    if as_json:
        click.echo(json.dumps(counts))
    else:
        for name, value in counts.items():
            click.echo(f"{name.replace('_', ' ')}: {value}")
