"""Hosted Autumn's scopes: its modern read/write names, how the CLI's legacy CRUDL names map
onto them, and how a grant is checked against a requirement.

Facts read from the public source of hosted Autumn (`useautumn/autumn`, August 2026:
`shared/utils/scopeDefinitions.ts`, the key mint in `server/src/internal/dev/cli/`):

- A scope is `resource:read` or `resource:write`; write implies read. `analytics` is
  read-only.
- The legacy names the CLI asks for map so: `create`, `update`, `delete` -> `:write`,
  `list` -> `:read` (`apiKeys:create` -> `apiKeys:write`).
- A minted key's scopes are the token's scopes in those modern names, in the token's order,
  each once. With the CLI's 20 scopes that is customers, features, plans, rewards and
  apiKeys read and write, and organisation:read: never balances, billing or analytics.
- A key without scopes (a dashboard key, or an empty list) passes every check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

RESOURCES = (
    "organisation",
    "customers",
    "features",
    "plans",
    "rewards",
    "balances",
    "billing",
    "migrations",
    "analytics",
    "apiKeys",
    "platform",
)
#: Every modern scope, in hosted Autumn's order: per resource, read then write.
MODERN_SCOPES: tuple[str, ...] = tuple(
    scope
    for resource in RESOURCES
    for scope in (f"{resource}:read", f"{resource}:write")
    if scope != "analytics:write"
)
OPENID_SCOPES = ("openid", "profile", "email", "offline_access")
META_SCOPES = ("superuser", "owner", "admin", "public")
LEGACY_SCOPE_ALIASES: dict[str, str] = {
    **{f"organisation:{a}": "organisation:write" for a in ("create", "update", "delete")},
    **{
        f"{resource}:{action}": f"{resource}:{'read' if action == 'list' else 'write'}"
        for resource in ("customers", "features", "plans", "apiKeys")
        for action in ("create", "update", "delete", "list")
    },
    "apiKeys": "apiKeys:write",
}
#: Every name hosted Autumn knows (a mint body's `scopes` may name only these).
ALL_SCOPES = frozenset((*OPENID_SCOPES, *MODERN_SCOPES, *META_SCOPES, *LEGACY_SCOPE_ALIASES))
#: The metadata document's `scopes_supported` (contract §H).
SCOPES_SUPPORTED: tuple[str, ...] = (*OPENID_SCOPES, *MODERN_SCOPES)


def modern(scope: str) -> str:
    return LEGACY_SCOPE_ALIASES.get(scope, scope)


def key_scopes(scopes: Iterable[str]) -> list[str]:
    """What a key minted from a grant of `scopes` gets: their modern names, each once."""
    return list(dict.fromkeys(modern(s) for s in scopes))


def expand(granted: Iterable[str]) -> set[str]:
    """The scopes a grant satisfies: legacy names made modern, write implies read,
    superuser > owner > admin > every modern scope; anything else dropped."""
    expanded: set[str] = set()
    for raw in granted:
        scope = modern(raw)
        if scope in META_SCOPES:
            expanded.add(scope)
            if scope == "superuser":
                expanded.update(("owner", "admin"))
            elif scope == "owner":
                expanded.add("admin")
            continue
        if scope not in MODERN_SCOPES:
            continue
        expanded.add(scope)
        if scope.endswith(":write"):
            expanded.add(scope.removesuffix(":write") + ":read")
    if "admin" in expanded:
        expanded.update(MODERN_SCOPES)
    return expanded


def missing(required: Sequence[str], granted: Iterable[str]) -> list[str]:
    """The required scopes (modern names) a grant lacks, in the order required."""
    have = expand(granted)
    return [scope for scope in map(modern, required) if scope not in have]


def key_allows(key_scopes: Sequence[str] | None, required: Sequence[str]) -> list[str]:
    """The scopes a key lacks for a route needing `required`: none for a key without
    scopes (full access, as hosted Autumn's dashboard keys and its fail-open check)."""
    if not key_scopes:
        return []
    return missing(required, key_scopes)


_NOUNS = {
    "organisation": "organisation",
    "customers": "customers",
    "features": "features",
    "plans": "plans",
    "rewards": "rewards",
    "balances": "balances",
    "billing": "billing",
    "migrations": "migrations",
    "analytics": "analytics",
    "apiKeys": "api keys",
    "platform": "platform",
}


def hosted_permissions(scopes: Iterable[str]) -> list[str]:
    """The consent page's read-only permission list, worded as hosted Autumn's page words
    it: one line per resource, in the order first asked for ("Read and write customers",
    "Read organisation"). Scopes that name no resource (openid, ...) are not shown."""
    actions: dict[str, set[str]] = {}
    for scope in expand(scopes):
        resource, _, action = scope.partition(":")
        if resource in _NOUNS and action in ("read", "write"):
            actions.setdefault(resource, set()).add(action)
    order = list(dict.fromkeys(modern(s).partition(":")[0] for s in scopes))
    order += [r for r in RESOURCES if r not in order]
    lines = []
    for resource in order:
        if resource not in actions:
            continue
        verbs = " and ".join(a for a in ("read", "write") if a in actions[resource])
        lines.append(f"{verbs.capitalize()} {_NOUNS[resource]}")
    return lines
