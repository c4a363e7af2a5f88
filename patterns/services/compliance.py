"""Hazmat compliance: which hazardous-materials data an open hazmat shipment lacks, and the owner's notice.

The check (``compliance:check`` without a shipment, on a schedule) records on every open hazmat shipment
what is missing (``compliance_issues``), clears the issues of shipments that no longer have any, and asks
for one notice job (``compliance:check`` with the shipment) per shipment whose issues are new or changed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from patterns.models import CLOSED_STATUSES, COMPLIANCE_CANDIDATES, Shipment
from patterns.services.delays import PRO_NUMBERS_SHOWN, pro_list
from trenova_jobs import enqueue

logger = logging.getLogger("patterns")

COMPLIANCE_JOB_TYPE = "compliance:check"
CHECK_BATCH_SIZE = 500

# What an open hazmat shipment must carry: (field, how a person calls it).
HAZMAT_REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("hazmat_un_number", "UN number"),
    ("hazmat_class", "hazard class"),
    ("hazmat_emergency_contact", "emergency contact"),
)


# What the check reads of each candidate.
_CHECK_COLUMNS: tuple[str, ...] = (
    *("pk", "pro_number", "organization_id", "business_unit_id", "owner_id", "is_hazmat", "status"),
    *(name for name, _ in HAZMAT_REQUIREMENTS),
    "compliance_issues",
)


def compliance_notice_unique_key(shipment_id: int) -> str:
    """One pending compliance notice per shipment."""
    return f"{COMPLIANCE_JOB_TYPE}:{shipment_id}"


def hazmat_missing(values: Mapping[str, Any]) -> list[str]:
    """The names of the required hazmat fields that are empty in ``values`` (a shipment's field values)."""
    return [label for name, label in HAZMAT_REQUIREMENTS if not str(values.get(name) or "").strip()]


def hazmat_issues(values: Mapping[str, Any]) -> list[str]:
    """What ``compliance_issues`` holds for these values, e.g. ["UN number missing", "hazard class missing"]."""
    return [f"{label} missing" for label in hazmat_missing(values)]


def _is_open_hazmat(values: Mapping[str, Any]) -> bool:
    return bool(values["is_hazmat"]) and values["status"] not in CLOSED_STATUSES


@dataclass
class ComplianceCheckResult:
    checked: int = 0  # open hazmat shipments looked at
    flagged: int = 0  # of those, how many lack something
    newly_flagged: int = 0  # flagged with issues they did not have before
    cleared: int = 0  # issues removed (data completed, or no longer an open hazmat load)
    notices: int = 0
    shipments: list[dict[str, Any]] = field(default_factory=list)  # the first PRO_NUMBERS_SHOWN flagged

    @property
    def message(self) -> str:
        cleared = f"; {self.cleared} cleared" if self.cleared else ""
        if self.flagged:
            noun = "shipment is" if self.flagged == 1 else "shipments are"
            pros = pro_list([row["pro_number"] for row in self.shipments], self.flagged)
            return (
                f"{self.flagged} hazmat {noun} missing compliance data ({self.newly_flagged} newly flagged): "
                f"{pros}{cleared}"
            )
        if self.checked == 1:
            return f"The one open hazmat shipment has its compliance data{cleared}"
        if self.checked:
            return f"All {self.checked} open hazmat shipments have their compliance data{cleared}"
        return f"No open hazmat shipments to check{cleared}"

    def as_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "flagged": self.flagged,
            "newly_flagged": self.newly_flagged,
            "cleared": self.cleared,
            "notices": self.notices,
            "shipments": self.shipments,
            "message": self.message,
        }


def shipments_compliance_check(
    *, now: datetime | None = None, batch_size: int = CHECK_BATCH_SIZE
) -> ComplianceCheckResult:
    """Record on each open hazmat shipment (not Completed, Billed or Canceled) what hazmat data it lacks.

    Shipments whose issues are new or different get them written (one UPDATE per distinct list of issues
    per batch) and, if they have an owner, one ``compliance:check`` notice job (unique per shipment) in the
    same transaction. Shipments carrying issues they no longer have — the data was filled in, or the load
    is closed or no longer hazmat — are cleared, without a notice. Unchanged shipments only get their
    ``compliance_checked_at``. Running it again changes nothing and notifies nobody.

    Batches walk the candidates in id order, one transaction each, with their rows locked (``SKIP
    LOCKED``: a shipment being edited right now is looked at by the next check), so an edit made while
    the check runs is never overwritten with issues computed from the old values.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    now = now or timezone.now()
    result = ComplianceCheckResult()
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                Shipment.objects.filter(COMPLIANCE_CANDIDATES, pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values(*_CHECK_COLUMNS)[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1]["pk"]
            changes: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
            unchanged: list[int] = []
            to_notify: list[Mapping[str, Any]] = []
            for row in rows:
                open_hazmat = _is_open_hazmat(row)
                issues = hazmat_issues(row) if open_hazmat else []
                result.checked += open_hazmat
                if issues:
                    result.flagged += 1
                    if len(result.shipments) < PRO_NUMBERS_SHOWN:
                        result.shipments.append({"id": row["pk"], "pro_number": row["pro_number"], "issues": issues})
                if issues == row["compliance_issues"]:
                    unchanged.append(row["pk"])
                    continue
                changes[tuple(issues)].append(row["pk"])
                if not issues:
                    result.cleared += 1
                    continue
                result.newly_flagged += 1
                if row["owner_id"] is not None:
                    to_notify.append(row)
            for new_issues, ids in changes.items():
                Shipment.objects.filter(pk__in=ids).update(
                    compliance_issues=list(new_issues), compliance_checked_at=now, updated_at=now
                )
            if unchanged:
                # Only the check's own timestamp: the shipment itself did not change (updated_at stays).
                Shipment.objects.filter(pk__in=unchanged).update(compliance_checked_at=now)
            for row in to_notify:
                record = enqueue(
                    COMPLIANCE_JOB_TYPE,
                    {"shipment_id": row["pk"], "organization_id": row["organization_id"]},
                    user=row["owner_id"],
                    organization_id=row["organization_id"],
                    business_unit_id=row["business_unit_id"],
                    unique_key=compliance_notice_unique_key(row["pk"]),
                )
                if not record.deduplicated:
                    result.notices += 1
    if result.newly_flagged or result.cleared:
        logger.info(
            "event=compliance_checked checked=%s flagged=%s newly_flagged=%s cleared=%s notices=%s",
            result.checked,
            result.flagged,
            result.newly_flagged,
            result.cleared,
            result.notices,
        )
    return result


def shipment_compliance_notice(*, shipment: Shipment) -> str:
    """The compliance notice for the shipment's owner, e.g. "Hazmat shipment PRO-7 is missing: UN number,
    emergency contact."

    Worded from the shipment as it is when the notice runs, so data filled in since the check is not
    reported missing.
    """
    values = {name: getattr(shipment, name) for name, _ in HAZMAT_REQUIREMENTS}
    missing = (
        hazmat_missing(values) if _is_open_hazmat({"is_hazmat": shipment.is_hazmat, "status": shipment.status}) else []
    )
    if missing:
        return f"Hazmat shipment {shipment.pro_number} is missing: {', '.join(missing)}."
    return f"Hazmat shipment {shipment.pro_number} has no compliance issues any more."
