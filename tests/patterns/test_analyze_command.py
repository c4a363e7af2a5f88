"""`manage.py analyze_patterns`: runs detection synchronously, shows progress and a table of lanes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from patterns.models import DedicatedLaneSuggestion, PatternConfig
from tests.patterns import factories as f
from tests.patterns.lane_data import build_lane_data

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("analyze_patterns", *args, stdout=out)
    return out.getvalue()


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
