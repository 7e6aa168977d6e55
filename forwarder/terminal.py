"""Printing tables for the admin commands."""

from __future__ import annotations

from typing import Any

from rich.console import Console

#: columns of a table printed into a pipe or a file (rich would squeeze it to 80)
PIPE_WIDTH = 200


def wide_console(**options: Any) -> Console:
    """A rich ``Console(**options)``; in a pipe or a file :data:`PIPE_WIDTH` columns wide."""
    console = Console(**options)
    return console if console.is_terminal else Console(width=PIPE_WIDTH, **options)
