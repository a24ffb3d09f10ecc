"""One module per `atmn` subcommand; each keeps its heavy imports inside the command body."""
