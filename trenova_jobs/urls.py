"""Operator URLs of the job service, mounted at the site root."""

from django.urls import path

from trenova_jobs import views

app_name = "trenova_jobs"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
