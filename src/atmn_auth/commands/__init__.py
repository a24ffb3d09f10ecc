"""One module per command, each with a `run_*` function that takes an `Invocation`
(`invocation`: settings, directory, environment, console, offline flag, session) and
returns the exit code: `login`, `withkey` (`login --with-key`), `logout`, `env`, `export`
(`env --export`), `run`, `keys_list`, `keys_create`, `keys_revoke`, `keys_rotate`.
The click layer (`atmn_auth.cli`) only parses flags and builds the invocation."""
