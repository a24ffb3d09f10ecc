"""Whether to open a browser, and opening it without ever blocking the sign-in."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping


def browser_unavailable_reason(
    environ: Mapping[str, str], *, platform: str = sys.platform
) -> str | None:
    """Why no browser can be opened here, or None when one probably can.

    An explicit `BROWSER` always counts as a browser: it is the user's own choice.
    """
    if environ.get("BROWSER", "").strip():
        return None
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY") or environ.get("SSH_CLIENT"):
        return "this is an SSH session"
    graphical = environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    if platform.startswith(("linux", "freebsd")) and not graphical:
        return "there is no display"
    return None


def open_in_browser(url: str) -> bool:
    """Asks Python's `webbrowser` (which honours `BROWSER`) to open `url`.

    Runs in a daemon thread: some browser commands only return once the browser
    exits, and the sign-in must keep listening meanwhile. Returns once the launch
    has either failed quickly or is under way.
    """
    outcome: list[bool] = []
    done = threading.Event()

    def launch() -> None:
        import webbrowser

        try:
            outcome.append(webbrowser.open(url, new=2))
        except Exception:
            outcome.append(False)
        done.set()

    threading.Thread(target=launch, name="atmn-browser", daemon=True).start()
    # A launcher that fails does so at once; one that works may keep running.
    done.wait(1.0)
    return outcome[0] if outcome else True
