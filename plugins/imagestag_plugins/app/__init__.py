"""The ``imagestag`` application, built on the core like any third-party plugin.

``main`` is the console script; its subcommands come from the
``register_commands`` hook (the built-in ones live in
:mod:`imagestag_plugins.commands`).  The other modules are what those commands
share: the file and video runners, the benchmark, the sample source and the
report writers.  Importing this package imports none of them.
"""
