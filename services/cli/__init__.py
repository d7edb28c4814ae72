"""The ``tocsin`` command line: one entry point, every command with ``--help`` and ``--config``."""

from services.cli.app import app, main

__all__ = ["app", "main"]
