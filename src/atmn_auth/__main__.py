"""The `atmn` console script and `python -m atmn_auth`.

`atmn --version` (and `-V`) is answered here, before click or anything else is
imported, so that it costs little more than starting Python; every other command line
goes to the click app in `atmn_auth.cli`.
"""

import sys

VERSION_FLAGS = ("--version", "-V")


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] in VERSION_FLAGS:
        from atmn_auth import __version__

        sys.stdout.write(f"atmn, version {__version__}\n")
        sys.stdout.flush()
        return

    from atmn_auth.cli import main as click_main

    click_main()


if __name__ == "__main__":
    main()
