"""``pattern-config/``: the caller's organization's pattern detection settings."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from patterns.api.common import request_field_names
from patterns.models import PatternConfig
from patterns.services.config import pattern_config_update
from project.api.tenancy import IsOrganizationAdmin, IsTenantMember


class PatternConfigSerializer(serializers.ModelSerializer):
    organization_id = serializers.IntegerField(read_only=True, help_text="Your organization.")

    class Meta:
        model = PatternConfig
        fields = (
            "organization_id",
            "enabled",
            "min_frequency",
            "analysis_window_days",
            "min_confidence_score",
            "suggestion_ttl_days",
            "require_exact_match",
            "weight_recent_shipments",
            "rejection_cooldown_days",
        )


class PatternConfigDetail(generics.GenericAPIView):
    """Your organization's pattern detection settings (the defaults until someone saves them).

    PUT (organization administrators only) changes the settings given and keeps the others; each range is
    checked (400 with the field).
    """

    serializer_class = PatternConfigSerializer

    def get_permissions(self) -> list[BasePermission]:
        permission = IsOrganizationAdmin if self.request.method == "PUT" else IsTenantMember
        return [permission()]

    @extend_schema(responses={200: PatternConfigSerializer})
    def get(self, request: Request) -> Response:
        config = PatternConfig.for_organization(request.tenant.organization_id)
        return Response(self.get_serializer(config).data)

    @extend_schema(request=PatternConfigSerializer, responses={200: PatternConfigSerializer})
    def put(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with request_field_names(serializer):
            config = pattern_config_update(organization_id=request.tenant.organization_id, **serializer.validated_data)
        return Response(self.get_serializer(config).data)
