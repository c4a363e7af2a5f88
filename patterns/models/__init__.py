"""TMS domain models: tenants, master data, shipments, dedicated lanes, lane suggestions and pattern configuration.

One module per part (see docs/architecture.md); everything is imported from here, ``patterns.models``.
"""

from patterns.models.base import TimeStampedModel
from patterns.models.config import (
    ANALYSIS_WINDOW_DAYS,
    CONFIDENCE_SCORE,
    MIN_FREQUENCY,
    REJECTION_COOLDOWN_DAYS,
    SUGGESTION_TTL_DAYS,
    Bounds,
    PatternConfig,
    TriggerReason,
)
from patterns.models.lanes import LANE_NAME_MAX_LENGTH, DedicatedLane, DedicatedLaneStatus, LaneFields
from patterns.models.master_data import (
    CodedType,
    Customer,
    EquipmentClass,
    EquipmentType,
    Location,
    ServiceType,
    ShipmentType,
    Worker,
)
from patterns.models.shipments import (
    CLOSED_STATUSES,
    COMPLIANCE_CANDIDATES,
    DELAY_EXEMPT_STATUSES,
    OPEN_HAZMAT,
    OVERDUE_CANDIDATES,
    HazmatClass,
    Shipment,
    ShipmentStatus,
)
from patterns.models.suggestions import DedicatedLaneSuggestion, SuggestionStatus
from patterns.models.tenancy import BusinessUnit, Membership, Organization, OrganizationScopedModel

__all__ = [
    "ANALYSIS_WINDOW_DAYS",
    "CLOSED_STATUSES",
    "COMPLIANCE_CANDIDATES",
    "CONFIDENCE_SCORE",
    "DELAY_EXEMPT_STATUSES",
    "LANE_NAME_MAX_LENGTH",
    "MIN_FREQUENCY",
    "OPEN_HAZMAT",
    "OVERDUE_CANDIDATES",
    "REJECTION_COOLDOWN_DAYS",
    "SUGGESTION_TTL_DAYS",
    "Bounds",
    "BusinessUnit",
    "CodedType",
    "Customer",
    "DedicatedLane",
    "DedicatedLaneStatus",
    "DedicatedLaneSuggestion",
    "EquipmentClass",
    "EquipmentType",
    "HazmatClass",
    "LaneFields",
    "Location",
    "Membership",
    "Organization",
    "OrganizationScopedModel",
    "PatternConfig",
    "ServiceType",
    "Shipment",
    "ShipmentStatus",
    "ShipmentType",
    "SuggestionStatus",
    "TimeStampedModel",
    "TriggerReason",
    "Worker",
]
