"""``/api/v1/``: each app's endpoints, the OpenAPI schema and its interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("trenova_jobs.api")),
    path("", include("patterns.api")),
    path("", include("notifications.api")),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[]), name="api-docs"),
]
