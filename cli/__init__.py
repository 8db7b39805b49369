"""The `modelgw` command: each subcommand builds one process of the platform from
its configuration and runs it (the composition root)."""
