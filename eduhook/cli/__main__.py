"""``python -m eduhook.cli``: the same as the ``eduhook`` command."""

from eduhook.cli.main import main

main()
