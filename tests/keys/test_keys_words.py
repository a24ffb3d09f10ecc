"""The words `atmn keys` uses: ages, which keys a selector names, the maximum age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atmn_auth.api.autumn import ListedKey
from atmn_auth.auth.inforce import max_age_days, not_offered
from atmn_auth.commands.keys_revoke import matching
from atmn_auth.errors import UsageError
from atmn_auth.settings import load_settings
from atmn_auth.text import ago

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "words"),
    [
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),  # a server clock a little ahead
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=3, hours=23), "3 days ago"),
        (timedelta(days=59), "59 days ago"),
        (timedelta(days=100), "3 months ago"),
        (timedelta(days=365), "1 year ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_ages_in_words(before: timedelta, words: str) -> None:
    assert ago(NOW - before, NOW) == words


def key(key_id: str, name: str, last4: str) -> ListedKey:
    return ListedKey(key_id, name, "sandbox", last4, NOW, None, "oauth")


LISTED = [
    key("key_a1", "ci", "Ab12"),
    key("key_b2", "Deploy", "Cd34"),
    key("key_c3", "ab12", "Ef56"),
]


@pytest.mark.parametrize(
    ("selector", "ids"),
    [
        ("key_b2", ["key_b2"]),
        ("deploy", ["key_b2"]),
        ("Deploy (sandbox)", ["key_b2"]),
        ("Cd34", ["key_b2"]),
        ("…Cd34", ["key_b2"]),
        ("...Cd34", ["key_b2"]),
        ("am_sk_test_…Cd34", ["key_b2"]),
        ("cd34", []),  # keys are case-sensitive
        ("ab12", ["key_c3"]),  # a name
        ("Ab12", ["key_a1", "key_c3"]),  # a last 4 and a name: ambiguous
        ("nothing", []),
    ],
)
def test_what_a_selector_names(selector: str, ids: list[str]) -> None:
    assert [entry.id for entry in matching(LISTED, selector)] == ids


@pytest.mark.parametrize(("raw", "days"), [("", 90.0), ("30", 30.0), (" 0.5 ", 0.5), ("0", 0.0)])
def test_the_maximum_age(raw: str, days: float) -> None:
    assert max_age_days({"ATMN_KEY_MAX_AGE_DAYS": raw}) == days


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "ninety", "1e999"])
def test_a_bad_maximum_age_is_a_usage_error(raw: str) -> None:
    with pytest.raises(UsageError, match="ATMN_KEY_MAX_AGE_DAYS must be a number of days"):
        max_age_days({"ATMN_KEY_MAX_AGE_DAYS": raw})


def test_against_autumn_local_the_way_round_is_its_own_command() -> None:
    settings = load_settings(prod=False, local=True, environ={})
    assert not_offered(settings).message == (
        "http://localhost:8080 does not offer listing, naming or revoking keys from the "
        "command line (`atmn keys`); use `autumn-local keys list` and `autumn-local keys revoke`"
    )
