"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("project.api.urls")),
    # django-rq's queue dashboard (staff only; linked from the admin index as "Queues").
    path("django-rq/", include("django_rq.urls")),
    path("", include("trenova_jobs.urls")),
]

# Under /api/, errors Django answers itself (no URL matched, a crash) keep the API's JSON error shape.
handler404 = "project.api.handlers.not_found"
handler500 = "project.api.handlers.crashed"
