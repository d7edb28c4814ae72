"""``python -m services.cli``: the ``tocsin`` command, for child processes started by this
interpreter (``tocsin run --processes``) without relying on where the script was installed."""

from services.cli.app import main

main()
