"""The keys `atmn run` puts in a command's environment and `atmn env --export` prints.

Both take them from one place, `select_keys`, so `atmn run -- CMD` and
`eval "$(atmn env --export)"; CMD` give CMD the same variables:

- `AUTUMN_SECRET_KEY`: the key of the selected environment. Without `-p` that is the
  sandbox key; with `-p` it is the live key, so that the same program runs against live
  without editing any file.
- `AUTUMN_PROD_SECRET_KEY`: the live key (with `-p`, the same key as above). Without
  `-p` it is added when it is set and holds a well-formed live key; when it is missing
  or holds something else it is left out, and a line on standard error says so.

Each value comes from the one resolution rule (`atmn_auth.envfiles.resolution`): the
process environment, then the nearest `.env`. With `--env-file` the keys come from that
file alone: the process environment is not consulted for them, which is how a stale
shell variable is overridden on purpose. When the process environment and the nearest
`.env` disagree, one line on standard error says which was used (`source_note`).

The key of the selected environment must be present and well formed, or nothing is set
or printed (exit 1, with the next step). Nothing here prints a key except the export
itself (`render_export`); messages show keys redacted.
"""

from __future__ import annotations

from atmn_auth.keyformat import KEY_VARS, LIVE_VAR, SANDBOX_VAR, key_kind, redact

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from pathlib import Path

    from atmn_auth.api.session import Session
    from atmn_auth.commands.env import EnvReport
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.envfiles.resolution import Resolution
    from atmn_auth.settings import Settings

#: `atmn env --export --format ...`; the first is the default.
FORMATS = ("sh", "dotenv", "json", "github")
EXPORTED = (SANDBOX_VAR, LIVE_VAR)


class Selection:
    """What `select_keys` found: the variables to set (in `EXPORTED` order), one-line
    notes for standard error, and the report on the selected environment's key."""

    __slots__ = ("notes", "report", "variables")

    def __init__(self, report: EnvReport, variables: dict[str, str], notes: list[str]) -> None:
        self.report = report
        self.variables = variables
        self.notes = notes

    def __repr__(self) -> str:
        shown = {name: redact(value) for name, value in self.variables.items()}
        return f"Selection(variables={shown!r}, notes={self.notes!r})"


def key_environ(environ: Mapping[str, str], env_file: Path | None) -> Mapping[str, str]:
    """The environment the keys are resolved in: `environ` itself, or with an explicit
    `env_file`, `environ` without the two key variables (the file alone decides)."""
    if env_file is None:
        return environ
    return {name: value for name, value in environ.items() if name not in EXPORTED}


def source_note(resolution: Resolution) -> str | None:
    """One line when the process environment and the nearest `.env` both set the variable
    to different values: which one is used, and how to use the other."""
    var, winner, nearest = resolution.var, resolution.winner, resolution.env_file
    if winner is None or winner.source != "environment" or nearest is None:
        return None
    in_file = next(
        (d for d in resolution.definitions if d.source == "dotenv" and d.path == nearest), None
    )
    if in_file is None or in_file.value == winner.value:
        return None
    return (
        f"Warning: using {var} from the process environment ({redact(winner.value)}), "
        f"not the one in {nearest} ({redact(in_file.value)}); pass --env-file {nearest} "
        f"to use the file's, or run `unset {var}`."
    )


def select_keys(
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    env_file: Path | None = None,
    session: Session | None = None,
    live_too: bool = True,
) -> Selection:
    """The variables for the environment `settings` selects (see the module's doc); the
    live key beside a sandbox key only with `live_too`.

    With a `session`, the server is asked about the selected key (`check_env`); without
    one only its format is checked. `variables` is empty unless that key is usable.
    """
    from atmn_auth.commands.env import check_env
    from atmn_auth.envfiles.resolution import resolve_key

    environ = key_environ(environ, env_file)
    report = check_env(settings, cwd=cwd, environ=environ, session=session, env_file=env_file)
    notes: list[str] = []
    note = source_note(report.resolution)
    if note:
        notes.append(note)
    if not report.usable or report.resolution.value is None:
        return Selection(report, {}, notes)
    key = report.resolution.value
    if settings.prod:
        return Selection(report, {SANDBOX_VAR: key, LIVE_VAR: key}, notes)

    variables = {SANDBOX_VAR: key}
    if not live_too:
        return Selection(report, variables, notes)
    live = resolve_key(LIVE_VAR, cwd=cwd, environ=environ, env_file=env_file)
    where = live.winner.where() if live.winner else None
    if live.value is None or where is None:
        nearest = str(live.env_file) if live.env_file else "any .env"
        notes.append(
            f"{LIVE_VAR} is not set in the process environment nor in {nearest}; "
            "left out (the sandbox key is set)."
        )
    elif key_kind(live.value) != "live":
        shown = redact(live.value) if live.value else "(empty)"
        notes.append(
            f"{LIVE_VAR} in {where} ({shown}) is not a well-formed live key "
            f"({KEY_VARS['live']} should hold am_sk_live_…); left out."
        )
    else:
        other = source_note(live)
        if other:
            notes.append(other)
        variables[LIVE_VAR] = live.value
    return Selection(report, variables, notes)


def not_usable(report: EnvReport, consequence: str) -> str:
    """One line: why the selected key cannot be used, `consequence`, and the next step."""
    var, winner = report.settings.key_var, report.resolution.winner
    if report.format != "ok" or winner is None:
        reason = report.format_message
    elif report.server == "rejected":
        reason = f"the server rejected {var} ({redact(winner.value)}) from {winner.where()} (401)"
    else:
        reason = f"could not check {var} with {report.settings.backend_url}: " + (
            report.server_message or report.server
        )
        return f"{reason}; {consequence}. Pass --offline to skip the check"
    step = f"; {report.next_step}" if report.next_step else ""
    return f"{reason}; {consequence}{step}"


# ---------------------------------------------------------------------------- formats


def sh_quote(value: str) -> str:
    """`value` in single quotes for a POSIX shell (`'` as `'\\''`)."""
    return "'" + value.replace("'", "'\\''") + "'"


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:@+,")


def dotenv_value(value: str) -> str:
    """`value` as a `.env` value that python-dotenv, Node's dotenv and docker read alike:
    bare when it is plain (Autumn keys always are), else quoted."""
    if value and all(c in _BARE for c in value):
        return value
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _mask_data(value: str) -> str:
    """A workflow command's data, escaped as the Actions runner expects."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_export(variables: Mapping[str, str], fmt: str) -> tuple[list[str], list[str]]:
    """The lines for standard output and for standard error.

    - sh: `export NAME='value'`, for `eval "$(atmn env --export)"`;
    - dotenv: `NAME=value`;
    - json: one object, `{"AUTUMN_SECRET_KEY": "…", "AUTUMN_PROD_SECRET_KEY": "…"}`;
    - github: `NAME=value` lines for `>> "$GITHUB_ENV"` on standard output, and the
      `::add-mask::` lines before them on standard error. The runner reads workflow
      commands from both streams, so the values are masked in the log from then on;
      in `$GITHUB_ENV` a mask line would be an error ("Invalid environment variable
      format").
    """
    if fmt == "sh":
        return [f"export {name}={sh_quote(value)}" for name, value in variables.items()], []
    if fmt == "dotenv":
        return [f"{name}={dotenv_value(value)}" for name, value in variables.items()], []
    if fmt == "json":
        import json

        return [json.dumps(dict(variables), indent=2)], []
    if fmt == "github":
        masks: list[str] = []
        for value in dict.fromkeys(variables.values()):  # each value once
            masks.extend(f"::add-mask::{_mask_data(line)}" for line in value.splitlines())
        lines: list[str] = []
        for name, value in variables.items():
            if "\n" in value or "\r" in value:  # never for a key; kept correct anyway
                delimiter = "ATMN_EOF"
                while delimiter in value:
                    delimiter += "_"
                lines.extend([f"{name}<<{delimiter}", value, delimiter])
            else:
                lines.append(f"{name}={value}")
        return lines, masks
    raise ValueError(f"unknown export format {fmt!r}")


def run_export(inv: Invocation, *, fmt: str = "sh", env_file: Path | None = None) -> int:
    """`atmn env --export`: the variables as results on `inv.console` (the mask lines, for
    `github`, on its message stream), notes as warnings. Never asks the server.

    Raises `AtmnError` (exit 1; no result printed) when the selected environment's key is
    missing or not a well-formed key of its kind.
    """
    from atmn_auth.errors import AtmnError

    selection = select_keys(inv.settings, cwd=inv.cwd, environ=inv.environ, env_file=env_file)
    for note in selection.notes:
        inv.console.warn(note)
    if not selection.variables:
        raise AtmnError(not_usable(selection.report, "nothing was exported"))
    lines, masks = render_export(selection.variables, fmt)
    for line in masks:
        inv.console.err(line)
    for line in lines:
        inv.console.result(line)
    return 0
