#!/bin/sh
# A BROWSER command for scripts/demo: reads the demo password the way a person does,
# from `autumn-local demo-user`, then lets the scripted browser sign in with it.
set -eu
here=$(dirname "$0")
repo=$(cd "$here/../.." && pwd)
SCRIPTED_BROWSER_PASSWORD=$("$repo/.venv/bin/autumn-local" demo-user --data "$AUTUMN_LOCAL_DATA" | sed -n 's/^password: *//p')
export SCRIPTED_BROWSER_PASSWORD
exec "$repo/.venv/bin/python" "$here/scripted_browser.py" "$1"
