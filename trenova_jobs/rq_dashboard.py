"""django-rq's dashboard, kept honest about this project's jobs.

django-rq's requeue puts the rq job back as it is; the worker then finds the job record failed and skips
the re-delivery, rq reports the job finished, and the record stays Failed. Its delete removes the rq job
and leaves the record waiting for a job that is gone. So, for a job that has a job record, these views
go through the job service instead: requeue is ``job_retry`` (the record's earlier run kept in its
history), delete is refused with a pointer to the record's cancel action. Jobs without a record (none
that this project makes) and every GET (the confirmation pages) are left to django-rq's own views.
Mounted before ``django_rq.urls`` in project/urls.py, on the same paths.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import re_path, reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django_rq import views as rq_views
from django_rq.queues import get_queue_by_index
from rq import requeue_job as rq_requeue_job
from rq.exceptions import NoSuchJobError
from rq.registry import FailedJobRegistry

from trenova_jobs.actions import job_retry
from trenova_jobs.admission import JOB_ID_RE
from trenova_jobs.errors import JobStateError
from trenova_jobs.models import JobRecord


def _records(job_ids: Iterable[str]) -> dict[str, JobRecord]:
    ids = [job_id for job_id in job_ids if JOB_ID_RE.match(job_id)]
    return {record.id: record for record in JobRecord.objects.filter(pk__in=ids)} if ids else {}


def _record_link(record_id: str) -> str:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:trenova_jobs_jobrecord_change", args=[record_id]), record_id
    )


def _may_operate(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("trenova_jobs.change_jobrecord"))


def _retry(request: HttpRequest, records: Iterable[JobRecord]) -> int:
    """job_retry each record; refusals are shown one by one. Returns how many were re-queued."""
    if not _may_operate(request):
        messages.error(request, "Retrying jobs needs the change permission on job records.")
        return 0
    done = 0
    for record in records:
        try:
            job_retry(record=record)
            done += 1
        except JobStateError as exc:
            messages.warning(request, str(exc))
    return done


def _refuse_delete(request: HttpRequest, records: Iterable[JobRecord]) -> None:
    for record in records:
        messages.error(
            request,
            format_html(
                "Job {} has a job record: deleting its rq job would leave the record waiting for nothing. "
                "Cancel it (if it has not started) from its job record instead.",
                _record_link(record.id),
            ),
        )


@never_cache
@staff_member_required
def requeue_job(request: HttpRequest, queue_index: str, job_id: str) -> HttpResponse:
    record = _records([job_id]).get(job_id)
    if request.method != "POST" or record is None:
        return rq_views.requeue_job_view(request, queue_index, job_id)
    if _retry(request, [record]):
        messages.success(request, format_html("Retried {} through the job service.", _record_link(record.id)))
        return redirect("admin:trenova_jobs_jobrecord_change", record.id)
    return redirect("rq_job_detail", queue_index, job_id)


@never_cache
@staff_member_required
def delete_job(request: HttpRequest, queue_index: str, job_id: str) -> HttpResponse:
    record = _records([job_id]).get(job_id)
    if request.method != "POST" or record is None:
        return rq_views.delete_job(request, queue_index, job_id)
    _refuse_delete(request, [record])
    return redirect("rq_job_detail", queue_index, job_id)


@never_cache
@staff_member_required
def requeue_all(request: HttpRequest, queue_index: str) -> HttpResponse:
    if request.method != "POST":
        return rq_views.requeue_all(request, queue_index)
    queue = get_queue_by_index(int(queue_index))
    job_ids = FailedJobRegistry(queue=queue).get_job_ids()
    records = _records(job_ids)
    retried = _retry(request, records.values())
    others = 0
    for job_id in job_ids:
        if job_id not in records:
            try:
                rq_requeue_job(job_id, connection=queue.connection, serializer=queue.serializer)
                others += 1
            except NoSuchJobError:
                pass
    messages.info(request, f"Retried {retried} job(s) through the job service; requeued {others} other rq job(s).")
    return redirect("rq_jobs", queue_index)


@never_cache
@staff_member_required
def actions(request: HttpRequest, queue_index: str) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    job_ids = request.POST.getlist("job_ids") if action else []
    records = _records(job_ids)
    if action not in ("requeue", "delete") or not records:
        return rq_views.actions(request, queue_index)
    if action == "requeue":
        retried = _retry(request, records.values())
        messages.info(request, f"Retried {retried} job(s) through the job service.")
    else:
        _refuse_delete(request, records.values())
    others = [job_id for job_id in job_ids if job_id not in records]
    if others:  # anything else selected: django-rq's own action, for those only
        post = request.POST.copy()
        post.setlist("job_ids", others)
        request.POST = post  # type: ignore[assignment]
        return rq_views.actions(request, queue_index)
    return redirect(request.POST.get("next_url") or reverse("rq_jobs", args=[queue_index]))


# The same paths as django_rq.urls (django-rq 2.10.3), matched first.
urlpatterns = [
    re_path(r"^queues/(?P<queue_index>[\d]+)/requeue-all/$", requeue_all, name="trenova_rq_requeue_all"),
    re_path(r"^queues/actions/(?P<queue_index>[\d]+)/$", actions, name="trenova_rq_actions"),
    re_path(r"^queues/(?P<queue_index>[\d]+)/(?P<job_id>[^/]+)/delete/$", delete_job, name="trenova_rq_delete_job"),
    re_path(r"^queues/(?P<queue_index>[\d]+)/(?P<job_id>[^/]+)/requeue/$", requeue_job, name="trenova_rq_requeue_job"),
]
