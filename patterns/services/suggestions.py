"""The lane suggestion lifecycle: accept (creates the dedicated lane), reject, expire."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patterns.errors import (
    LaneNameClashError,
    SuggestionExpiredError,
    SuggestionStateError,
    SuggestionValidationError,
)
from patterns.events import suggestion_accepted, suggestion_rejected
from patterns.lanes import lane_values
from patterns.models import (
    LANE_NAME_MAX_LENGTH,
    DedicatedLane,
    DedicatedLaneStatus,
    DedicatedLaneSuggestion,
    SuggestionStatus,
    Worker,
)

if TYPE_CHECKING:
    # The model AUTH_USER_MODEL names (the default one), as django-stubs types the processed_by foreign key.
    from django.contrib.auth.models import User


def suggestion_accept(
    *,
    suggestion: DedicatedLaneSuggestion,
    user: User,
    name: str | None = None,
    primary_worker: Worker | None = None,
    secondary_worker: Worker | None = None,
    auto_assign: bool = False,
) -> DedicatedLane:
    """Turn a Pending, unexpired suggestion into an Active dedicated lane, in one transaction.

    ``name`` defaults to the suggested name. Raises ``SuggestionStateError`` (not Pending),
    ``SuggestionExpiredError``, ``LaneNameClashError`` (the name is taken, in any case) or
    ``SuggestionValidationError`` (workers of another organization, auto-assign without a primary
    driver, the same driver twice …); on any of them nothing changes.
    """
    _require_user(user)
    lane_name = (name if name is not None else suggestion.suggested_name).strip()
    if not lane_name or len(lane_name) > LANE_NAME_MAX_LENGTH:
        raise SuggestionValidationError(
            f"The lane name must be 1 to {LANE_NAME_MAX_LENGTH} characters.", {"name": ["Invalid length."]}
        )
    now = timezone.now()
    with transaction.atomic():
        # The row lock serialises two people accepting (or one accepting, one rejecting) at once.
        locked = DedicatedLaneSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        _require_pending(locked)
        if locked.expires_at <= now:
            raise SuggestionExpiredError(f"Suggestion {locked.pk} expired on {locked.expires_at:%Y-%m-%d %H:%M} UTC.")
        if DedicatedLane.objects.filter(organization_id=locked.organization_id, name__iexact=lane_name).exists():
            raise LaneNameClashError(f"A dedicated lane named {lane_name!r} already exists; choose another name.")
        lane = DedicatedLane(
            organization_id=locked.organization_id,
            business_unit_id=locked.business_unit_id,
            name=lane_name,
            status=DedicatedLaneStatus.ACTIVE,
            **lane_values(locked),
            primary_worker=primary_worker,
            secondary_worker=secondary_worker,
            auto_assign=auto_assign,
        )
        try:
            lane.full_clean(validate_constraints=False)  # constraints: the name check above, the insert below
        except ValidationError as exc:
            errors = exc.message_dict
            raise SuggestionValidationError(_first_message(errors), errors) from None
        try:
            with transaction.atomic():
                lane.save(force_insert=True)
        except IntegrityError:
            # Someone took the name between our check and our insert (the unique index decides).
            raise LaneNameClashError(
                f"A dedicated lane named {lane_name!r} already exists; choose another name."
            ) from None
        _mark_processed(locked, status=SuggestionStatus.ACCEPTED, user=user, now=now, created_dedicated_lane=lane)
        suggestion_accepted.send(sender=DedicatedLaneSuggestion, suggestion=locked, lane=lane)
    _copy_state(locked, suggestion)
    return lane


def suggestion_reject(*, suggestion: DedicatedLaneSuggestion, user: User, reason: str = "") -> DedicatedLaneSuggestion:
    """Reject a Pending suggestion, recording who, when and why. Raises ``SuggestionStateError`` otherwise.

    The lane is not suggested again until the organization's rejection cooldown has passed.
    """
    _require_user(user)
    now = timezone.now()
    with transaction.atomic():
        locked = DedicatedLaneSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        _require_pending(locked)
        _mark_processed(locked, status=SuggestionStatus.REJECTED, user=user, now=now, reject_reason=reason.strip())
        suggestion_rejected.send(sender=DedicatedLaneSuggestion, suggestion=locked)
    _copy_state(locked, suggestion)
    return suggestion


def suggestions_expire(*, organization_id: int | None = None, now: datetime | None = None) -> int:
    """Mark Expired every Pending suggestion whose ``expires_at`` has passed; returns how many.

    All organizations unless ``organization_id`` is given. One UPDATE: safe to run concurrently.
    """
    now = now or timezone.now()
    stale = DedicatedLaneSuggestion.objects.filter(status=SuggestionStatus.PENDING, expires_at__lte=now)
    if organization_id is not None:
        stale = stale.filter(organization_id=organization_id)
    return stale.update(status=SuggestionStatus.EXPIRED, updated_at=now)


def _require_user(user: User | None) -> None:
    if user is None or getattr(user, "pk", None) is None:
        raise SuggestionValidationError("A saved user must accept or reject a suggestion.")


def _require_pending(suggestion: DedicatedLaneSuggestion) -> None:
    if suggestion.status != SuggestionStatus.PENDING:
        raise SuggestionStateError(
            f"Suggestion {suggestion.pk} is {suggestion.status}; only Pending suggestions can be accepted or rejected."
        )


def _mark_processed(
    suggestion: DedicatedLaneSuggestion, *, status: str, user: User, now: datetime, **fields: object
) -> None:
    suggestion.status = status
    suggestion.processed_by = user
    suggestion.processed_at = now
    for name, value in fields.items():
        setattr(suggestion, name, value)
    suggestion.save(
        update_fields=["status", "processed_by", "processed_at", "updated_at", *fields],
    )


def _copy_state(source: DedicatedLaneSuggestion, target: DedicatedLaneSuggestion) -> None:
    """Let the caller's instance see the saved state."""
    if source is target:
        return
    for name in ("status", "processed_by", "processed_at", "reject_reason", "created_dedicated_lane", "updated_at"):
        setattr(target, name, getattr(source, name))


def _first_message(errors: dict[str, list[str]]) -> str:
    field, messages = next(iter(errors.items()))
    label = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
    return f"{label}{messages[0]}"
