"""Progress output for management commands: a rich Console over the command's stdout on a terminal, else None.

Commands call `progress_console()` once and keep their plain output when it returns None (stdout is not
a terminal, or --no-progress), so that pipes, CI logs and tests see exactly the lines they always did.
"""

from __future__ import annotations

import argparse
import io
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandParser, OutputWrapper
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def add_progress_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Show progress bars and spinners (default: only when stdout is a terminal).",
    )


def progress_console(command: BaseCommand, options: dict[str, Any]) -> Console | None:
    """A Console writing through `command.stdout` when progress is to be shown, else None."""
    wanted = options.get("progress")
    if wanted is None:
        wanted = command.stdout.isatty()
    if not wanted:
        return None
    return Console(
        file=cast(IO[str], _CommandStream(command.stdout)),
        # The decision is made above (a TTY, or --progress); rich's own check would look at the
        # wrapper, and a forced --progress into a file or a test's StringIO should animate all the same.
        force_terminal=True,
        no_color=bool(options.get("no_color")),
        highlight=False,
    )


def bar_progress(console: Console) -> Progress:
    """Bars for work with a known size: label, bar, done/total, percentage, elapsed and remaining time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def spinner_progress(console: Console) -> Progress:
    """A spinner with a message and the time spent on it, for steps of unknown size; gone when done."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # messages are text, not rich markup
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class _CommandStream(io.TextIOBase):
    """Hands rich's output to the command's OutputWrapper as it is (OutputWrapper.write adds newlines)."""

    def __init__(self, out: OutputWrapper) -> None:
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._out.flush()
