"""`Frozen`: what a frozen dataclass gives (immutable, compared and hashed by its fields,
copied and pickled through `__init__`) without importing `dataclasses`, which costs
`atmn env --offline` several milliseconds at start-up (it imports `inspect`).

A subclass lists its fields in `_FIELDS` (in `__init__`'s order), sets `__slots__` to
them and assigns them in `__init__` with `object.__setattr__`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


class Frozen:
    __slots__: tuple[str, ...] = ()
    _FIELDS: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle: through __init__
        return (self.__class__, self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__name__}({shown})"
