"""``python -m imagestag_core``: the ``imagestag`` command, by its console-script entry point."""
from importlib.metadata import entry_points

raise SystemExit(entry_points(group="console_scripts", name="imagestag")["imagestag"].load()())
