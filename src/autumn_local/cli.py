"""`autumn-local` (not built yet)."""


def main() -> None:
    raise SystemExit("autumn-local: not built yet")
