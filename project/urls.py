"""Root URL configuration, and the admin site's branding."""

from typing import cast

from django.contrib import admin
from django.urls import include, path, reverse_lazy

from project import dashboard

admin.site.site_header = "Trenova Jobs"
admin.site.site_title = "Trenova Jobs admin"
admin.site.index_title = "Operations and data"
# "View site": the project has no public site; operators want the dashboard.
admin.site.site_url = cast(str, reverse_lazy("admin_dashboard"))

urlpatterns = [
    # Before admin.site.urls, whose admin/<app_label>/ would take "dashboard" for an app.
    path("admin/dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin_dashboard"),
    path(
        "admin/dashboard/retry/<str:job_id>/",
        admin.site.admin_view(dashboard.dashboard_retry),
        name="admin_dashboard_retry",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("project.api.urls")),
    # django-rq's queue dashboard (staff only; linked from the admin index as "Queues").
    # Its requeue/delete of a job that has a job record go through the job service (matched first).
    path("django-rq/", include("trenova_jobs.rq_dashboard")),
    path("django-rq/", include("django_rq.urls")),
    path("", include("trenova_jobs.urls")),
]

# Under /api/, errors Django answers itself (no URL matched, a crash) keep the API's JSON error shape.
handler404 = "project.api.handlers.not_found"
handler500 = "project.api.handlers.crashed"
