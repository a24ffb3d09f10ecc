"""`recover_interactively`: the recovery `atmn env` offers on a terminal."""

from __future__ import annotations

from atmn_auth.api.session import Session
from atmn_auth.auth.recovery import recover_interactively
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR

from .helpers import PickOrganization, Project, ScriptedOpener


def test_on_a_terminal_it_signs_in_again_and_rewrites_the_keys_file(project: Project) -> None:
    before = project.keys()
    project.revoke_keys()
    menu = PickOrganization("acme")
    console = project.console(ScriptedOpener(project.server), prompter=menu)

    with Session(project.environ) as session:
        result = recover_interactively(
            project.settings, project.root, project.environ, console, session
        )

    assert result is not None
    assert result.env_file == project.env_file
    after = project.keys()
    assert after[SANDBOX_VAR] == result.keys.sandbox_key != before[SANDBOX_VAR]
    assert after[LIVE_VAR] == result.keys.live_key != before[LIVE_VAR]
    assert project.organization_of(after[SANDBOX_VAR]).json()["slug"] == "acme"
    assert any("rejected AUTUMN_SECRET_KEY" in line for line in project.lines)


def test_it_does_nothing_without_a_terminal_or_when_the_environment_shadows(
    project: Project,
) -> None:
    project.revoke_keys()
    before = project.env_file.read_bytes()
    opener = ScriptedOpener(project.server)
    sign_ins = project.sign_ins()

    no_terminal = project.console(opener)
    terminal = project.console(opener, prompter=PickOrganization("acme"))
    shadowed = dict(project.environ, AUTUMN_SECRET_KEY=str(project.keys()[SANDBOX_VAR]))
    disabled = dict(project.environ, ATMN_DISABLE_AUTH_RECOVERY="1")
    with Session(project.environ) as session:
        root, settings = project.root, project.settings
        assert recover_interactively(settings, root, project.environ, no_terminal, session) is None
        assert recover_interactively(settings, root, shadowed, terminal, session) is None
        assert recover_interactively(settings, root, disabled, terminal, session) is None

    assert opener.opened == []
    assert project.env_file.read_bytes() == before
    assert project.sign_ins() == sign_ins
