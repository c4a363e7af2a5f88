"""`manage.py analyze_patterns`: runs detection synchronously, shows progress and a table of lanes."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from patterns.models import DedicatedLaneSuggestion, PatternConfig
from tests.patterns import factories as f
from tests.patterns.lane_data import build_lane_data

pytestmark = pytest.mark.django_db


class TerminalIO(StringIO):
    """A captured stdout that says it is a terminal, as a developer's shell is."""

    def isatty(self) -> bool:
        return True


def _run(*args: str, stdout: StringIO | None = None) -> str:
    out = stdout or StringIO()
    call_command("analyze_patterns", *args, stdout=out, no_color=True)
    return out.getvalue()


def _visible(output: str) -> str:
    """Terminal output without escape sequences (cursor moves, styles) and carriage returns."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).replace("\r", "\n")


def _masked(output: str) -> str:
    """Output with what differs between two runs (duration, window times) masked."""
    return re.sub(r"\d+ ms; window .*", "<timing>", output)


def test_prints_progress_a_table_and_a_summary() -> None:
    data = build_lane_data()
    PatternConfig.objects.create(organization=data.org, enabled=False)  # a command runs anyway
    output = _run("--org", str(data.org.pk))
    assert "Analysing Acme Freight" in output
    assert "… 10 lanes examined, 9 frequent enough, 8 qualified." in output
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("#  Customer"))
    rows = lines[header + 2 : header + 10]
    assert [row.split()[1] for row in rows] == ["ACME", "CORA", "DUNE", "ECHO", "ECHO", "CORA", "FERN", "ACME"]
    first = rows[0]
    assert "CHI → DAL" in first and "STD/FTL/DAYCAB/-" in first and "12,500.00" in first
    assert first.split()[-1] == "created" and "1.0000" in first
    assert rows[1].endswith("active lane") and rows[2].endswith("pending suggestion")
    assert rows[3].endswith("recently rejected")
    assert "10 lanes examined, 8 qualified, 5 suggestions created" in output
    assert DedicatedLaneSuggestion.objects.filter(pattern_details__trigger_reason="command").count() == 5


def test_customer_days_and_limit() -> None:
    data = build_lane_data()
    # ACME over the last 21 days: L1 keeps 3 shipments (0.8); L2 keeps one.
    output = _run("--org", str(data.org.pk), "--customer", str(data.customers["ACME"].pk), "--days", "21")
    assert "2 lanes examined, 1 qualified, 1 suggestions created" in output
    output = _run("--org", str(data.org.pk), "--limit", "2", "--min-frequency", "3")
    assert "… and 6 more (use --limit)." in output


def test_nothing_qualified() -> None:
    org = f.OrganizationFactory()
    assert "No lane qualified." in _run("--org", str(org.pk))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "0"], "Organization 0 does not exist."),
        (["--customer", "0"], "Customer 0 does not exist in organization"),
        (["--days", "0"], "--days must be between 1 and 365."),
        (["--days", "366"], "--days must be between 1 and 365."),
        (["--min-frequency", "101"], "--min-frequency must be between 1 and 100."),
    ],
)
def test_bad_arguments_are_clear_errors(args: list[str], message: str) -> None:
    org = f.OrganizationFactory()
    full = ["--org", str(org.pk), *args] if args[0] != "--org" else args
    with pytest.raises(CommandError, match=message):
        _run(*full)


def test_progress_flag_shows_each_step_with_its_time_and_a_rich_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the table (rich reads the width from COLUMNS)
    data = build_lane_data()
    output = _visible(_run("--org", str(data.org.pk), "--progress"))
    lines = output.splitlines()
    assert "Analysing Acme Freight" in output
    # Finished steps stay, each with the time it took; the plain "  … " lines are not printed.
    assert re.search(r"^  ✓ 10 lanes examined, 9 frequent enough, 8 qualified\. \(\d+\.\d\d s\)$", output, re.M)
    assert re.search(r"^  ✓ Creating suggestions… \(\d+\.\d\d s\)$", output, re.M)
    assert "  … " not in output
    # The table: the same columns and rows as the plain one, under a rule instead of dashes.
    header = next(i for i, line in enumerate(lines) if line.startswith("#  Customer"))
    assert lines[header + 1].startswith("─")
    rows = lines[header + 2 : header + 10]
    assert [row.split()[1] for row in rows] == ["ACME", "CORA", "DUNE", "ECHO", "ECHO", "CORA", "FERN", "ACME"]
    assert "CHI → DAL" in rows[0] and "12,500.00" in rows[0] and rows[0].split()[-1] == "created"
    assert "10 lanes examined, 8 qualified, 5 suggestions created" in output


def test_a_terminal_too_narrow_for_the_rich_table_gets_the_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    data = build_lane_data()
    output = _visible(_run("--org", str(data.org.pk), "--progress"))
    assert "  ✓ 10 lanes examined" in output
    header = next(i for i, line in enumerate(output.splitlines()) if line.startswith("#  Customer"))
    assert output.splitlines()[header + 1].startswith("-  ----")
    assert "…" not in output.splitlines()[header + 2]  # no cell cut short


def test_a_terminal_gets_a_spinner_unless_no_progress_and_then_prints_what_a_pipe_gets() -> None:
    data = build_lane_data()
    org = str(data.org.pk)
    on_terminal = _visible(_run("--org", org, stdout=TerminalIO()))
    assert "  ✓ Creating suggestions…" in on_terminal

    # Re-runs create nothing new, so these two see the same lanes and outcomes.
    plain = _run("--org", org)
    quiet = _run("--org", org, "--no-progress", stdout=TerminalIO())
    assert "\x1b" not in quiet and "✓" not in quiet
    assert "  … 10 lanes examined, 9 frequent enough, 8 qualified." in quiet
    assert _masked(quiet) == _masked(plain)
