"""``python -m reportgen``: the same as the ``reportgen`` command."""

from reportgen.cli import run

run()
