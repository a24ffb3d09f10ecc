"""A "browser" that does what a person does on the Autumn sign-in pages, over plain HTTP.

Given an authorize URL it follows redirects one by one (keeping cookies), signs in on the
sign-in page, picks the organization on the consent page, presses Approve or Deny (Authorize or
Cancel on the hosted profile's page, whose dropdown is disabled, and not sent, with one
organization), and finally GETs the loopback redirect URI it is sent to, so that a CLI's
callback server receives it.
Given the CLI's single-use start link instead (`http://localhost:PORT/start/…`, which
redirects to an authorize URL on another origin), it takes that hop first.

In-process:  run(url, email=..., password=..., org="acme", action="approve") -> httpx2.Response

For the device authorization grant (RFC 8628), `approve_device(verification_uri, user_code,
email=..., password=...)` opens the verification page, signs in, types the code, picks the
organization and presses Approve or Deny. As a BROWSER command, a URL whose path ends in
`/device` with a `user_code` query parameter (a `verification_uri_complete`) is driven that way
(exit 0 once the page says the request was approved or denied, as asked); a `/device` URL
without a code is only loaded (a person would type the code shown in their terminal); any
other URL is an authorize URL or a start link, as before.

As a command for Python's `webbrowser` (see browser_env):
    BROWSER="<python> /abs/path/scripted_browser.py %s"
reading SCRIPTED_BROWSER_EMAIL, SCRIPTED_BROWSER_PASSWORD, SCRIPTED_BROWSER_ORG (slug,
optional), SCRIPTED_BROWSER_ACTION (approve|deny) and SCRIPTED_BROWSER_LOG (optional file:
one line per run, without any code, state or token). Exits 0 once the redirect URI answered.
SCRIPTED_BROWSER_CALLBACK_TIME_FILE (optional) gets `time.time_ns()` taken right before the
request to the redirect URI is sent, for benchmarks that time what a CLI does after its callback.
SCRIPTED_BROWSER_CMDLINE (optional file) gets one JSON line per run, written first: this
process's `argv`, its `/proc/self/cmdline`, and the command line of every process this one can
see (`/proc/*/cmdline`), for tests that check what a command line gives away.

On a network with a proxy and a private CA (see make_client): SCRIPTED_BROWSER_PROXY (a proxy
URL for every host but loopback, which is always reached directly) and SCRIPTED_BROWSER_CA (a
PEM CA file, trusted instead of the system store). Without them the browser behaves as before.
"""

from __future__ import annotations

import json
import os
import shlex
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import httpx2

MAX_STEPS = 20


class BrowserError(Exception):
    """The pages did not go the way a person would expect."""


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    selects: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)
    has_password: bool = False
    #: Names of the `disabled` selects: a browser does not send them.
    disabled: set[str] = field(default_factory=set)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and a.get("name"):
            if a.get("type") == "password":
                form.has_password = True
            form.fields[a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            form.selects[self._select] = []
            if "disabled" in a:
                form.disabled.add(self._select)
        elif tag == "option" and self._select is not None:
            form.selects[self._select].append(a)
        elif tag == "button":
            form.buttons.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class Outcome:
    """What happened: the final response and a log-safe description of the steps."""

    response: httpx2.Response
    steps: list[str]
    redirect_uri: str | None = None
    params: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = self.redirect_uri or str(self.response.url.copy_with(query=None))
        params = ",".join(self.params) or "-"
        status = self.response.status_code
        return f"{' > '.join(self.steps)} => {where} params={params} status={status}"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def make_client(proxy: str | None = None, ca_file: str | None = None) -> httpx2.Client:
    """The browser's HTTP client: redirects not followed, cookies kept.

    With `proxy`, every request except to loopback goes through it, whatever the environment
    says (a CLI that opens this browser passes its own proxy variables down). With `ca_file`,
    that CA alone is trusted.
    """
    if proxy is None and ca_file is None:
        return httpx2.Client(follow_redirects=False, timeout=10.0)
    verify: Any = ssl.create_default_context(cafile=ca_file) if ca_file else True
    mounts: dict[str, httpx2.BaseTransport | None] = {}
    if proxy:
        mounts["all://"] = httpx2.HTTPTransport(proxy=proxy, verify=verify)
        for host in LOOPBACK_HOSTS:
            mounts[f"all://{host}"] = None  # None: the client's own, direct transport
    return httpx2.Client(
        follow_redirects=False,
        timeout=10.0,
        verify=verify,
        trust_env=proxy is None,
        mounts=mounts,
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _start_hop(url: str, response: httpx2.Response) -> str | None:
    """The authorize URL when `response` (to the first request, for `url`) is a start link's
    redirect: to another origin, with `response_type` in its query. A redirect straight to
    the client's redirect URI carries `code`/`error` instead."""
    if not response.is_redirect:
        return None
    target = urljoin(url, response.headers["location"])
    names = {name for name, _ in parse_qsl(urlsplit(target).query)}
    return target if _origin(target) != _origin(url) and "response_type" in names else None


def follow_start(url: str, client: httpx2.Client | None = None) -> str:
    """The authorize URL a start link redirects to (which uses the link up); any other URL
    as it is."""
    if "/start/" not in urlsplit(url).path:
        return url
    http = client or make_client()
    try:
        response = http.get(url)
    finally:
        if client is None:
            http.close()
    target = _start_hop(url, response)
    if target is None:
        raise BrowserError(f"the start link answered {response.status_code}, not a redirect")
    return target


def _first_form(response: httpx2.Response) -> tuple[Form, str, dict[str, str]] | None:
    """The page's first form, where it posts to, and its fields as they are; None when
    the page has no form."""
    forms = parse_forms(response.text)
    if not forms:
        return None
    form = forms[0]
    return form, urljoin(str(response.url), form.action or str(response.url)), dict(form.fields)


def _sign_in(
    http: httpx2.Client,
    response: httpx2.Response,
    form: Form,
    email: str,
    password: str,
    *,
    again: bool,
) -> httpx2.Response:
    """Fill in the sign-in form and send it; a second sign-in page, or one answering a
    refused sign-in (401), means the email or password was wrong."""
    if again or response.status_code == 401:
        raise BrowserError("sign-in was refused (wrong email or password?)")
    target = urljoin(str(response.url), form.action or str(response.url))
    return http.post(target, data={**form.fields, "email": email, "password": password})


def browse(
    url: str,
    *,
    email: str,
    password: str,
    org: str | None = None,
    action: str = "approve",
    follow_callback: bool = True,
    client: httpx2.Client | None = None,
    before_callback: Callable[[], None] | None = None,
) -> Outcome:
    """Drive the pages from `url` to the client's redirect URI; see the module docstring.

    `before_callback` is called right before the request to the redirect URI is sent.
    """
    if action not in ("approve", "deny"):
        raise ValueError("action must be 'approve' or 'deny'")
    own_client = client is None
    http = client or make_client()
    server_origin = _origin(url)
    steps: list[str] = []
    signed_in = False
    try:
        response = http.get(url)
        authorize = _start_hop(url, response)
        if authorize is not None:  # the CLI's start link
            steps.append("start")
            server_origin = _origin(authorize)
            response = http.get(authorize)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if _origin(target) == server_origin:
                    steps.append("redirect")
                    response = http.get(target)
                    continue
                query = urlsplit(target).query
                names = [p.split("=", 1)[0] for p in query.split("&") if p]
                redirect_uri = target.split("?", 1)[0]
                if not follow_callback:
                    return Outcome(response, steps, redirect_uri, names)
                steps.append("callback")
                if before_callback is not None:
                    before_callback()
                final = http.get(target)
                return Outcome(final, steps, redirect_uri, names)
            found = _first_form(response) if response.status_code in (200, 401) else None
            if found is None:
                return Outcome(response, steps)
            form, target, data = found
            if form.has_password:
                steps.append("sign-in")
                response = _sign_in(http, response, form, email, password, again=signed_in)
                signed_in = True
                continue
            if "org_id" in form.selects:
                _decide(form, data, org, action)
                steps.append(f"{action} org={org or 'default'}")
                response = http.post(target, data=data)
                continue
            return Outcome(response, steps)
        raise BrowserError("too many steps")
    finally:
        if own_client:
            http.close()


def _decide(form: Form, data: dict[str, str], org: str | None, action: str) -> None:
    """Fill in a grant form as a person does: choose the organization (a disabled dropdown,
    with one organization, is left as it is and not sent) and press the button whose
    `action` value is `action` (Approve/Authorize or Deny/Cancel)."""
    choice = _choose_org(form.selects["org_id"], org)
    if "org_id" in form.disabled:
        data.pop("org_id", None)
    else:
        data["org_id"] = choice
    offered = [b.get("value") for b in form.buttons if b.get("name") == "action"]
    if offered and action not in offered:
        raise BrowserError(f"the page has no {action!r} button (it offers {offered})")
    data["action"] = action


def _choose_org(options: list[dict[str, str]], slug: str | None) -> str:
    if slug is None:
        for option in options:
            if "selected" in option:
                return option.get("value", "")
        return options[0].get("value", "") if options else ""
    for option in options:
        if option.get("data-slug") == slug:
            return option.get("value", "")
    raise BrowserError(f"organization {slug!r} is not offered on the consent page")


DEVICE_RESULT_IDS = {"approve": 'id="device-approved"', "deny": 'id="device-denied"'}


def approve_device(
    verification_uri: str,
    user_code: str,
    *,
    email: str,
    password: str,
    org: str | None = None,
    action: str = "approve",
    client: httpx2.Client | None = None,
) -> Outcome:
    """Drive the device verification page as a person does; see the module docstring.

    Opens `verification_uri` (its query, if any, is kept), signs in when sent to the sign-in
    page, enters `user_code` in the code field (replacing what is prefilled), chooses `org`
    (a slug; default: the one preselected) and presses Approve or Deny. The Outcome's
    response is the last page; `device_result(outcome.response)` says what it reports.
    """
    if action not in ("approve", "deny"):
        raise ValueError("action must be 'approve' or 'deny'")
    own_client = client is None
    http = client or make_client()
    server_origin = _origin(verification_uri)
    steps: list[str] = []
    signed_in = entered = decided = False
    try:
        response = http.get(verification_uri)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if _origin(target) != server_origin:
                    raise BrowserError("the device page redirected off the server")
                steps.append("redirect")
                response = http.get(target)
                continue
            found = (
                _first_form(response)
                if response.status_code in (200, 401) and not decided
                else None
            )
            if found is None:
                return Outcome(response, steps)
            form, target, data = found
            if form.has_password:
                steps.append("sign-in")
                response = _sign_in(http, response, form, email, password, again=signed_in)
                signed_in = True
                continue
            if "org_id" in form.selects:
                _decide(form, data, org, action)
                steps.append(f"{action} org={org or 'default'}")
                decided = True
                response = http.post(target, data=data)
                continue
            if "user_code" in form.fields:
                if entered:
                    raise BrowserError("the device page asked for the code again")
                data["user_code"] = user_code
                data["action"] = "continue"
                steps.append("enter-code")
                entered = True
                response = http.post(target, data=data)
                continue
            return Outcome(response, steps)
        raise BrowserError("too many steps")
    finally:
        if own_client:
            http.close()


def device_result(response: httpx2.Response) -> str | None:
    """ "approve" or "deny" when `response` is the page saying which was done, else None."""
    if response.status_code != 200:
        return None
    for action, marker in DEVICE_RESULT_IDS.items():
        if marker in response.text:
            return action
    return None


def device_page(url: str) -> bool:
    """Whether `url` is a device verification page without a code (`verification_uri`)."""
    parts = urlsplit(url)
    return parts.path.rstrip("/").endswith("/device") and "user_code" not in parse_qs(parts.query)


def device_url(url: str) -> tuple[str, str] | None:
    """(verification_uri, user_code) when `url` is a `verification_uri_complete`, else None."""
    parts = urlsplit(url)
    if not parts.path.rstrip("/").endswith("/device"):
        return None
    codes = parse_qs(parts.query).get("user_code")
    if not codes:
        return None
    return parts._replace(query="", fragment="").geturl(), codes[0]


def run(
    url: str,
    *,
    email: str,
    password: str,
    org: str | None = None,
    action: str = "approve",
    follow_callback: bool = True,
) -> httpx2.Response:
    """The final response: the redirect URI's answer, or the 302 to it when not following."""
    return browse(
        url,
        email=email,
        password=password,
        org=org,
        action=action,
        follow_callback=follow_callback,
    ).response


def browser_env(server: Any, **overrides: str) -> dict[str, str]:
    """BROWSER and SCRIPTED_BROWSER_* variables for a subprocess that opens a browser.

    Overrides by short name: email, password, org, action, log, proxy, ca, cmdline.
    """
    settings: dict[str, str] = {
        "email": server.email,
        "password": server.password,
        "action": "approve",
    }
    settings.update({k: str(v) for k, v in overrides.items()})
    known = {"email", "password", "org", "action", "log", "proxy", "ca", "cmdline"}
    unknown = set(settings) - known
    if unknown:
        raise TypeError(f"unknown browser_env settings: {sorted(unknown)}")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} %s"
    env = {"BROWSER": command}
    env.update({f"SCRIPTED_BROWSER_{k.upper()}": v for k, v in settings.items()})
    return env


def _command_lines() -> dict[str, Any]:
    """This process's argv and /proc/self/cmdline, and every visible process's command line."""

    def cmdline(pid: str) -> list[str] | None:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return raw.decode(errors="replace").rstrip("\0").split("\0")

    everyone = {pid: cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    return {
        "argv": sys.argv,
        "cmdline": cmdline("self"),
        "all": {pid: line for pid, line in everyone.items() if line is not None},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: scripted_browser.py URL", file=sys.stderr)
        return 2
    cmdline_path = os.environ.get("SCRIPTED_BROWSER_CMDLINE")
    if cmdline_path:
        with open(cmdline_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(_command_lines()) + "\n")
    log_path = os.environ.get("SCRIPTED_BROWSER_LOG")
    time_path = os.environ.get("SCRIPTED_BROWSER_CALLBACK_TIME_FILE")

    def note_callback_time() -> None:
        if time_path:
            with open(time_path, "w", encoding="ascii") as out:
                out.write(f"{time.time_ns()}\n")

    client = make_client(
        os.environ.get("SCRIPTED_BROWSER_PROXY") or None,
        os.environ.get("SCRIPTED_BROWSER_CA") or None,
    )
    action = os.environ.get("SCRIPTED_BROWSER_ACTION", "approve")
    device = device_url(argv[1])
    try:
        if device_page(argv[1]):
            page = client.get(argv[1], follow_redirects=True)  # to the sign-in page, say
            line = f"device page: status={page.status_code}"
            ok = page.status_code == 200
        elif device is not None:
            outcome = approve_device(
                device[0],
                device[1],
                email=os.environ["SCRIPTED_BROWSER_EMAIL"],
                password=os.environ["SCRIPTED_BROWSER_PASSWORD"],
                org=os.environ.get("SCRIPTED_BROWSER_ORG") or None,
                action=action,
                client=client,
            )
            result = device_result(outcome.response)
            line = f"device: {outcome.describe()} result={result or '-'}"
            ok = result == action
        else:
            outcome = browse(
                argv[1],
                email=os.environ["SCRIPTED_BROWSER_EMAIL"],
                password=os.environ["SCRIPTED_BROWSER_PASSWORD"],
                org=os.environ.get("SCRIPTED_BROWSER_ORG") or None,
                action=action,
                client=client,
                before_callback=note_callback_time,
            )
            line = outcome.describe()
            ok = outcome.redirect_uri is not None
    except (BrowserError, httpx2.HTTPError, KeyError) as exc:
        line = f"failed: {type(exc).__name__}: {exc}"
        ok = False
    finally:
        client.close()
    if log_path:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    print(f"scripted browser: {line}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
