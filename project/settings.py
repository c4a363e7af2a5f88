"""Settings for Trenova Jobs, read from the environment (see README "Configuration")."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core ------------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off; "
            "set DJANGO_SECRET_KEY to a long random string, or DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DJANGO_DEBUG-is-on"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    # trenova_jobs first: its `rqworker` (weighted worker, scheduler on) overrides both below.
    "trenova_jobs",
    # django_rq before scheduler: both register `rqworker`, and the first app listed wins. Under the
    # project's config only for its name in the admin.
    "project.apps.RqDashboardConfig",
    "scheduler",
    "patterns",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------------
# PostgreSQL when DATABASE_URL is set; otherwise an SQLite file so a newcomer can run the demo with
# nothing but Redis.

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation --------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Redis and queues ------------------------------------------------------------------------------
# django-rq and django-rq-scheduler share one Redis (REDIS_URL) and one set of queue names.

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Queue name -> weight: a worker serves each queue first in proportion to its weight (weighted dequeueing,
# trenova_jobs.queues.weighted_order). Every queue here is served by `rqworker`.
TRENOVA_JOBS_QUEUE_WEIGHTS = {
    "critical": 6,
    "shipment": 2,
    "pattern": 1,
    "compliance": 1,
    "default": 1,
    "system": 1,
}

_RQ_SERIALIZER = "rq.serializers.JSONSerializer"  # never pickle: Redis writers must not run code
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600, "SERIALIZER": _RQ_SERIALIZER}
    for name in TRENOVA_JOBS_QUEUE_WEIGHTS
}
RQ = {"WORKER_CLASS": "trenova_jobs.worker.WeightedWorker"}
RQ_SHOW_ADMIN_LINK = True

SCHEDULER_QUEUES = RQ_QUEUES
SCHEDULER_CONFIG = {
    "EXECUTIONS_IN_PAGE": 20,
    "DEFAULT_RESULT_TTL": 600,
    "DEFAULT_TIMEOUT": 600,
    "SCHEDULER_INTERVAL": 10,
}

# --- REST framework --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous caller is told "401, WWW-Authenticate: Token" rather than a bare 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every endpoint: authenticated, with an organization membership (sets request.tenant).
    "DEFAULT_PERMISSION_CLASSES": ["project.api.permissions.IsTenantMember"],
    "DEFAULT_PAGINATION_CLASS": "project.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # anything else: 415
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "project.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "project.api.schema.ErrorAwareAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    # Per user: asking for analyses, and deciding on suggestions.
    "DEFAULT_THROTTLE_RATES": {
        "analyze": os.environ.get("TRENOVA_API_ANALYZE_RATE", "10/min"),
        "suggestion_decide": os.environ.get("TRENOVA_API_DECIDE_RATE", "60/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trenova Jobs API",
    "DESCRIPTION": (
        "Background jobs and dedicated-lane suggestions for a TMS. Authenticate with "
        "`Authorization: Token <key>` (`manage.py issue_token USERNAME`) or a session. Every object is "
        'scoped to the caller\'s organization. Errors: `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status": each enum gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "trenova_jobs.models.JobStatus",
        "WebhookDeliveryStatusEnum": "notifications.models.DeliveryStatus",
    },
}

# --- Logging ---------------------------------------------------------------------------------------

LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "trenova_jobs": {"level": LOG_LEVEL},
        "patterns": {"level": LOG_LEVEL},
        "notifications": {"level": LOG_LEVEL},
        "rq.worker": {"level": LOG_LEVEL},
    },
}

# --- Job service -----------------------------------------------------------------------------------
# Defaults and ranges are in trenova_jobs/conf.py; every value can be overridden here.

TRENOVA_JOBS_DEQUEUE_STRATEGY = os.environ.get("TRENOVA_JOBS_DEQUEUE_STRATEGY", "weighted")
TRENOVA_JOBS_RETRY_BACKOFF_CAP = env_int("TRENOVA_JOBS_RETRY_BACKOFF_CAP", 3600, minimum=1)
# Extra modules that register job types (beyond every app's jobs.py): benchmarks load theirs this way.
TRENOVA_JOBS_MODULES: list[str] = env_list("TRENOVA_JOBS_MODULES", [])
# What a job is about, for the job record admin: a payload key (or the record's organization_id) and the
# model whose admin page it links to. trenova_jobs itself imports no app's models.
TRENOVA_JOBS_SUBJECTS: list[tuple[str, str]] = [
    ("shipment_id", "patterns.shipment"),
    ("customer_id", "patterns.customer"),
    ("organization_id", "patterns.organization"),
]
# A scraper may read /metrics with "Authorization: Bearer <token>"; staff sessions always may.
TRENOVA_METRICS_TOKEN = os.environ.get("TRENOVA_METRICS_TOKEN", "")
# Housekeeping jobs: system:cleanup_temp_files deletes regular files older than TRENOVA_TEMP_MAX_AGE_HOURS under
# TRENOVA_TEMP_DIR (absolute, never the filesystem root; symbolic links are never followed);
# system:prune_job_records deletes finished job records TRENOVA_JOBS_RECORD_RETENTION_DAYS after they finished.
TRENOVA_TEMP_DIR = os.environ.get("TRENOVA_TEMP_DIR", "") or str(BASE_DIR / "var" / "tmp")
TRENOVA_TEMP_MAX_AGE_HOURS = env_int("TRENOVA_TEMP_MAX_AGE_HOURS", 24, minimum=1, maximum=8760)
TRENOVA_JOBS_RECORD_RETENTION_DAYS = env_int("TRENOVA_JOBS_RECORD_RETENTION_DAYS", 30, minimum=1, maximum=3650)

# --- Notifications and webhooks --------------------------------------------------------------------
# Per-job-type notification settings over the defaults in notifications/config.py, e.g.
# {"pattern:analyze": {"success_priority": "low", "tags": ["patterns"]}}.
TRENOVA_NOTIFICATIONS: dict[str, dict] = {}
# Webhooks go to public https URLs only; these open plain http and private/loopback addresses for local use.
TRENOVA_WEBHOOKS_ALLOW_HTTP = env_bool("TRENOVA_WEBHOOKS_ALLOW_HTTP", False)
TRENOVA_WEBHOOKS_ALLOW_PRIVATE = env_bool("TRENOVA_WEBHOOKS_ALLOW_PRIVATE", False)
TRENOVA_WEBHOOKS_TIMEOUT = env_int("TRENOVA_WEBHOOKS_TIMEOUT", 5, minimum=1)
