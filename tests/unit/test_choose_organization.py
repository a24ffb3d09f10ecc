"""Which organization the new keys belong to: `--org`, the only one, or the person's pick."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from atmn_auth.api.autumn import Organization
from atmn_auth.auth.signin import choose_organization
from atmn_auth.errors import AtmnError, UsageError
from atmn_auth.term.console import Console

ACME = Organization(id="org_acme", name="Acme", slug="acme")
BETA = Organization(id="org_beta", name="Beta Corp", slug="beta")
NOSLUG = Organization(id="org_x", name="Gamma", slug=None)


class ScriptedPrompter:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[tuple[str, list[tuple[str, str]]]] = []

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        self.asked.append((message, list(choices)))
        return self.answer

    def confirm(self, message: str, default: bool) -> bool:  # pragma: no cover - unused
        raise AssertionError("not asked")


def console(
    *, interactive: bool = False, prompter: ScriptedPrompter | None = None
) -> tuple[Console, list[str]]:
    said: list[str] = []
    return Console(info=said.append, interactive=interactive, prompter=prompter), said


@pytest.mark.parametrize("wanted", ["beta", "BETA", "Beta", "org_beta"])
def test_org_flag_by_slug_in_any_case_or_by_id(wanted: str) -> None:
    c, _ = console()
    assert choose_organization([ACME, BETA], wanted, c) is BETA


def test_the_id_is_matched_exactly() -> None:
    c, _ = console()
    with pytest.raises(UsageError):
        choose_organization([ACME, BETA], "ORG_BETA", c)


def test_org_flag_for_an_organization_you_are_not_in_lists_yours() -> None:
    c, _ = console()
    with pytest.raises(UsageError) as e:
        choose_organization([ACME, BETA, NOSLUG], "initech", c)
    assert e.value.message == "--org initech: you are not a member of it (yours: acme, beta, org_x)"
    assert e.value.exit_code == 2


def test_org_flag_wins_over_asking() -> None:
    prompter = ScriptedPrompter("org_acme")
    c, _ = console(interactive=True, prompter=prompter)
    assert choose_organization([ACME, BETA], "beta", c) is BETA
    assert prompter.asked == []


def test_the_only_organization_is_used_without_asking() -> None:
    prompter = ScriptedPrompter("org_beta")
    c, _ = console(interactive=True, prompter=prompter)
    assert choose_organization([ACME], None, c) is ACME
    assert prompter.asked == []


def test_several_organizations_are_asked_about_by_name() -> None:
    prompter = ScriptedPrompter("org_beta")
    c, _ = console(interactive=True, prompter=prompter)
    assert choose_organization([ACME, BETA], None, c) is BETA
    ((message, choices),) = prompter.asked
    assert "organization" in message
    assert choices == [("Acme (acme)", "org_acme"), ("Beta Corp (beta)", "org_beta")]


@pytest.mark.parametrize("interactive", [False, True])
def test_several_organizations_and_nobody_to_ask_names_the_org_flag(interactive: bool) -> None:
    prompter = None if interactive else ScriptedPrompter("org_beta")  # a prompter nobody answers
    c, _ = console(interactive=interactive, prompter=prompter)
    with pytest.raises(UsageError) as e:
        choose_organization([ACME, BETA], None, c)
    assert e.value.message == (
        "you belong to several organizations (acme, beta); choose one with --org SLUG"
    )
    if prompter is not None:
        assert prompter.asked == []


def test_no_organization_at_all() -> None:
    c, _ = console()
    with pytest.raises(AtmnError, match="belongs to no organization; create one"):
        choose_organization([], None, c)


def test_a_server_without_organizations_leaves_it_to_the_consent_page() -> None:
    c, said = console()
    assert choose_organization(None, None, c) is None
    assert said == []


def test_the_org_flag_is_said_to_be_ignored_when_the_server_cannot_list() -> None:
    c, said = console()
    assert choose_organization(None, "acme", c) is None
    assert said == [
        "This server does not list organizations; using the one chosen in the browser "
        "(--org acme is ignored)."
    ]
