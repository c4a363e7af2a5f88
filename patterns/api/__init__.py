"""REST API of the patterns domain (under /api/v1/): thin views over its services and selectors.

One module per resource: ``analysis`` (ask for an analysis), ``suggestions``, ``lanes``, ``shipments``,
``config``; ``common`` holds what they share. Every object is the caller's organization's
(``request.tenant``): another organization's is a 404, and an id of one in a body is a 400.
"""

from django.urls import path

from patterns.api.analysis import PatternAnalyze
from patterns.api.config import PatternConfigDetail
from patterns.api.lanes import DedicatedLaneDetail, DedicatedLaneList
from patterns.api.shipments import ShipmentDetail, ShipmentList
from patterns.api.suggestions import SuggestionAccept, SuggestionDetail, SuggestionList, SuggestionReject

urlpatterns = [
    path("patterns/analyze/", PatternAnalyze.as_view(), name="api-pattern-analyze"),
    path("pattern-config/", PatternConfigDetail.as_view(), name="api-pattern-config"),
    path("lane-suggestions/", SuggestionList.as_view(), name="api-suggestion-list"),
    path("lane-suggestions/<int:pk>/", SuggestionDetail.as_view(), name="api-suggestion-detail"),
    path("lane-suggestions/<int:pk>/accept/", SuggestionAccept.as_view(), name="api-suggestion-accept"),
    path("lane-suggestions/<int:pk>/reject/", SuggestionReject.as_view(), name="api-suggestion-reject"),
    path("dedicated-lanes/", DedicatedLaneList.as_view(), name="api-lane-list"),
    path("dedicated-lanes/<int:pk>/", DedicatedLaneDetail.as_view(), name="api-lane-detail"),
    path("shipments/", ShipmentList.as_view(), name="api-shipment-list"),
    path("shipments/<int:pk>/", ShipmentDetail.as_view(), name="api-shipment-detail"),
]
