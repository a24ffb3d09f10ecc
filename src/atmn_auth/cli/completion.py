"""`atmn completion SHELL`: the script click itself prints for `_ATMN_COMPLETE=<shell>_source`."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command(name="completion")
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    To load it in every new shell:

    \b
      bash, in ~/.bashrc:  eval "$(atmn completion bash)"
      zsh, in ~/.zshrc:    eval "$(atmn completion zsh)"
      fish, once:          atmn completion fish > ~/.config/fish/completions/atmn.fish
    """
    from click.shell_completion import shell_complete

    root = ctx.find_root()
    prog_name = root.info_name or "atmn"
    # named as `click.Command._main_shell_completion` names it: _ATMN_COMPLETE
    complete_var = f"_{prog_name.replace('-', '_').replace('.', '_')}_COMPLETE".upper()
    # exactly what `_ATMN_COMPLETE=<shell>_source atmn` prints
    ctx.exit(shell_complete(root.command, {}, prog_name, complete_var, f"{shell}_source"))
