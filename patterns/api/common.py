"""What the patterns endpoints share: tenant-scoped views, summaries of related rows, fields, error names."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from patterns.errors import SuggestionValidationError
from patterns.lanes import LANE_FIELDS
from patterns.models import Customer, EquipmentClass, EquipmentType, Location, ServiceType, ShipmentType, Worker
from project.api.tenancy import TenantRelatedField
from trenova_jobs import JobRecord, JobStatus

if TYPE_CHECKING:
    # The model AUTH_USER_MODEL names (the default one), as the services type their user.
    from django.contrib.auth.models import User

# --- Views -----------------------------------------------------------------------------------------------


def acting_user(request: Request) -> User:
    """The user a request acts for (every view here lets only members in)."""
    user = request.user
    if not isinstance(user, get_user_model()):
        raise NotAuthenticated()
    return user


def job_status_url(job_id: str) -> str:
    """The job service's status URL of a job (``/api/v1/jobs/{id}/``)."""
    return reverse("api-job-detail", args=[job_id])


# --- Fields ----------------------------------------------------------------------------------------------


class EnumChoiceField(serializers.ChoiceField):
    """A choice field over a ``TextChoices``, documented as its own enum component (``<Choices>Enum``).

    Several models have a ``status`` with different choices; named components keep them apart in the schema
    (drf-spectacular would otherwise warn about the collision of their generated names). Choices that
    ``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]`` names (the job status) use a plain ``ChoiceField``.
    """

    def __init__(self, enum: type[models.TextChoices], **kwargs: Any) -> None:
        self.enum = enum
        super().__init__(choices=enum.choices, **kwargs)


class EnumChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumChoiceField

    def get_name(self) -> str:
        return f"{self.target.enum.__name__}Enum"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.enum.values)}


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that must say its offset (``Z`` or ``+02:00``): a naive one is refused."""

    default_error_messages = {
        "naive": "Give a time zone offset, e.g. 2025-01-31T08:00:00Z or 2025-01-31T08:00:00+02:00.",
    }

    def enforce_timezone(self, value: Any) -> Any:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A list filter by a related row's id: an integer (``?customer=7``), a 400 otherwise."""

    field_class = forms.IntegerField


# --- Summaries of related rows (read-only) ---------------------------------------------------------------


class CustomerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ("id", "code", "name")
        read_only_fields = fields


class LocationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ("id", "code", "name", "city", "state", "postal_code")
        read_only_fields = fields


class ServiceTypeSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceType
        fields = ("id", "code", "description")
        read_only_fields = fields


class ShipmentTypeSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ShipmentType
        fields = ("id", "code", "description")
        read_only_fields = fields


class EquipmentTypeSummarySerializer(serializers.ModelSerializer):
    equipment_class = EnumChoiceField(EquipmentClass, read_only=True)

    class Meta:
        model = EquipmentType
        fields = ("id", "code", "description", "equipment_class")
        read_only_fields = fields


# The lane shape (patterns.lanes.LANE_FIELDS) in the API: what each lane field points at, and its summary.
_LANE_TARGETS: dict[str, tuple[type[models.Model], type[serializers.Serializer]]] = {
    "customer": (Customer, CustomerSummarySerializer),
    "origin_location": (Location, LocationSummarySerializer),
    "destination_location": (Location, LocationSummarySerializer),
    "service_type": (ServiceType, ServiceTypeSummarySerializer),
    "shipment_type": (ShipmentType, ShipmentTypeSummarySerializer),
    "tractor_type": (EquipmentType, EquipmentTypeSummarySerializer),
    "trailer_type": (EquipmentType, EquipmentTypeSummarySerializer),
}


def lane_fields_serializer(
    *, name: str, optional: Collection[str], help_texts: Mapping[str, str]
) -> type[serializers.Serializer]:
    """A serializer base declaring the seven lane fields once: each written by id (``customer_id`` …, a row
    of the caller's organization) and read as a summary (``customer`` …). ``optional`` fields may be
    left out or null; ``help_texts`` words each field for the model at hand."""
    if set(help_texts) != set(LANE_FIELDS) or set(_LANE_TARGETS) != set(LANE_FIELDS):
        raise ValueError(f"Lane fields are {', '.join(LANE_FIELDS)}; word each one.")
    attrs: dict[str, Any] = {}
    for field in LANE_FIELDS:
        model, summary = _LANE_TARGETS[field]
        nullable = field in optional
        attrs[f"{field}_id"] = TenantRelatedField(
            model=model, source=field, required=not nullable, allow_null=nullable, help_text=help_texts[field]
        )
        attrs[field] = summary(read_only=True, allow_null=nullable)
    return type(name, (serializers.Serializer,), attrs)


class WorkerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Worker
        fields = ("id", "code", "first_name", "last_name")
        read_only_fields = fields


# --- Jobs a request started ------------------------------------------------------------------------------


class JobSummarySerializer(serializers.Serializer):
    """A job a request asked for; its status URL tells how it went."""

    id = serializers.CharField(read_only=True, help_text="job_<ULID>.")
    job_type = serializers.CharField(read_only=True, help_text="e.g. pattern:analyze, shipment:status_update.")
    status = serializers.ChoiceField(
        choices=JobStatus.choices, read_only=True, help_text="The job's status when the request answered."
    )
    url = serializers.SerializerMethodField(help_text="The job's status URL.")
    deduplicated = serializers.BooleanField(
        read_only=True, help_text="True when an active job of the same scope was returned instead of a new one."
    )

    def get_url(self, obj: JobRecord) -> str:
        return job_status_url(obj.id)


# --- Service errors under the request's field names ------------------------------------------------------


@contextmanager
def request_field_names(serializer: serializers.BaseSerializer[Any]) -> Iterator[None]:
    """Report a service's field errors under the names the request used (``customer`` → ``customer_id``).

    Services name model fields; a request names some of them otherwise (a field's ``source``).
    """
    fields: Mapping[str, serializers.Field] = getattr(serializer, "fields", {})
    renames = {
        field.source: name
        for name, field in fields.items()
        if isinstance(field.source, str) and field.source not in (name, "*")
    }
    try:
        yield
    except DjangoValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise serializers.ValidationError(_renamed(messages, renames)) from exc
    except SuggestionValidationError as exc:
        raise SuggestionValidationError(str(exc), _renamed(exc.errors, renames)) from exc


def _renamed(errors: Mapping[str, list[str]], renames: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        name = "non_field_errors" if field == "__all__" else renames.get(field, field)
        out.setdefault(name, []).extend(str(message) for message in messages)
    return out
