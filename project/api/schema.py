"""OpenAPI: the error shape as a component, listed on every operation with the statuses it can answer."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ErrorBody = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(help_text="validation_error, not_found, conflict, throttled …"),
                "message": serializers.CharField(help_text="What went wrong, for a person."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Per-field messages (400 only).",
                ),
            },
        )
    },
)


class ErrorAwareAutoSchema(AutoSchema):
    """Adds the error responses each operation can give, all with the ``Error`` component."""

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "429"] if self._is_throttled() else ["400", "401", "403"]  # 400: bad filters too
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["415"]
        codes += ["404"]  # an object of another organization, or a page past the end of a list
        if self.method == "POST" and "{" in self.path:
            codes += ["409"]
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorBody, code)
        return responses

    def _is_throttled(self) -> bool:
        return bool(getattr(self.view, "throttle_scope", None))
