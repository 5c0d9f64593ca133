"""The built-in ``imagestag`` subcommands, one a module, each registered by its
own ``register_commands`` hook exactly as a third-party command is."""
