"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # django-rq's queue dashboard (staff only; linked from the admin index as "Queues").
    path("django-rq/", include("django_rq.urls")),
    path("", include("trenova_jobs.urls")),
]
