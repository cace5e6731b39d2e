"""Django settings for Stratus. Every value comes from the environment
(see console/env.py); the defaults give a working local setup."""

import secrets
import socket
from pathlib import Path

import dj_database_url

from console.env import ImproperSetting, envbool, envdecimal, envfloat, envint, envstr
from runtimes.catalog import dockerfile as runtime_dockerfile

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("STRATUS_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = envstr("STRATUS_SECRET_KEY")
    if configured:
        return configured
    # A generated key is kept in the data folder so sessions and encrypted
    # API secrets survive restarts of a default install.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("STRATUS_DEBUG", False)
ALLOWED_HOSTS = envstr("STRATUS_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in envstr("STRATUS_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "functions",
    "invocations",
    "mappings",
    "messaging",
    "triggers",
    "buckets",
    "tables",
    "kinesis",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The ASGI server serves no static files; WhiteNoise does, from the app itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

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
            # Every template writes times the same way: |abstime, |reltime.
            "builtins": ["console.times"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), conn_max_age=600
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend with the process's writers queued in memory
    # rather than in SQLite's sleeping busy handler (console/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "console.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        # Several processes (web, workers, beat) write at once: WAL lets
        # readers go on during a write, IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if envbool("STRATUS_TESTING", False) else 600

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "fn-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Straight from static/ and the apps: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Lambda's 50 MB zip, which CreateFunction carries base64-encoded (4/3 of
# it) in a JSON body, and 6 MB sync payloads.
DATA_UPLOAD_MAX_MEMORY_SIZE = 70 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, which cuts
            # channels_redis's blocking 5 s BZPOPMIN and closes idle
            # websockets (channels_redis#422): wait longer than the pop.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": envstr("STRATUS_INSTANCE", "stratus"),
            # channels_redis drops what a channel holds over its capacity
            # (100 by default): a burst of live rows must fit.
            "capacity": 1000,
        },
    }
}

# Celery: long work on its own queue, acknowledged late, one task at a time
# per process, so a killed worker's task goes back to the queue.
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Periodic tasks have a queue and a worker of their own (bin/serve), so a
# backlog of invocations never delays a schedule, the reconciler or a poll.
# SNS HTTP/S deliveries too: a thread-pool worker of many threads, so slow
# endpoints (up to the read timeout per attempt) neither hold invocation
# workers nor delay other subscriptions' deliveries.
CELERY_TASK_ROUTES = {
    "invocations.run": {"queue": "invocations"},
    "messaging.deliver_http": {"queue": "deliveries"},
    "invocations.reconcile": {"queue": "periodic"},
    # Dependency builds (functions.dependency_build): the invocation
    # workers' default queue, never the periodic one (a build takes minutes).
    "functions.build_dependencies": {"queue": "default"},
    "functions.reconcile_builds": {"queue": "periodic"},
    "triggers.fire_due_schedules": {"queue": "periodic"},
    "messaging.poll_queues": {"queue": "periodic"},
    "messaging.requeue_http_deliveries": {"queue": "periodic"},
    "buckets.sweep_spool": {"queue": "periodic"},
    "tables.expire_items": {"queue": "periodic"},
    "tables.trim_streams": {"queue": "periodic"},
    "kinesis.trim_records": {"queue": "periodic"},
    "metrics.trim": {"queue": "periodic"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the longest function timeout (900 s), so Redis does not
    # hand a running task to a second worker.
    "visibility_timeout": 3600,
    # One Redis list per step; workers drain lower steps first (priority).
    "priority_steps": [0, 3, 6, 9],
    "sep": ":",
    "queue_order_strategy": "priority",
}
CELERY_TASK_DEFAULT_PRIORITY = 3
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "reconcile": {
        "task": "invocations.reconcile",
        "schedule": envfloat("STRATUS_RECONCILE_INTERVAL", 30.0),
    },
    # Schedule triggers: claims are conditional UPDATEs, so a second beat is
    # harmless; a stale tick (busy workers) expires instead of piling up.
    "fire-schedules": {
        "task": "triggers.fire_due_schedules",
        "schedule": envfloat("STRATUS_SCHEDULE_TICK", 1.0),
        "options": {"expires": 10.0},
    },
    # Queue event source mappings; a poll that waited past a few ticks is dropped.
    "poll-queues": {
        "task": "messaging.poll_queues",
        "schedule": envfloat("STRATUS_QUEUE_POLL_INTERVAL", 1.0),
        "options": {"expires": 10},
    },
    # Dependency builds whose task was lost or whose worker stopped.
    "reconcile-builds": {
        "task": "functions.reconcile_builds",
        "schedule": envfloat("STRATUS_RECONCILE_INTERVAL", 30.0),
        "options": {"expires": 60},
    },
    # SNS deliveries to HTTP/S endpoints whose task was lost.
    "requeue-http-deliveries": {
        "task": "messaging.requeue_http_deliveries",
        "schedule": envfloat("STRATUS_RECONCILE_INTERVAL", 30.0),
        "options": {"expires": 60},
    },
    # Spool files an upload killed mid-way left behind (buckets.spool_sweep).
    "sweep-spool": {
        "task": "buckets.sweep_spool",
        "schedule": envfloat("STRATUS_SPOOL_SWEEP_INTERVAL", 600.0),
        "options": {"expires": 60},
    },
    # DynamoDB items past their time to live (tables.ttl).
    "expire-items": {
        "task": "tables.expire_items",
        "schedule": envfloat("STRATUS_TTL_SWEEP_INTERVAL", 10.0),
        "options": {"expires": 30},
    },
    # DynamoDB stream records past their 24 hours (tables.streams.trim).
    "trim-table-streams": {
        "task": "tables.trim_streams",
        "schedule": envfloat("STRATUS_STREAM_TRIM_INTERVAL", 300.0),
        "options": {"expires": 60},
    },
    # Kinesis records past their stream's retention (kinesis.retention).
    "trim-kinesis-records": {
        "task": "kinesis.trim_records",
        "schedule": envfloat("STRATUS_KINESIS_TRIM_INTERVAL", 60.0),
        "options": {"expires": 60},
    },
    # Metric minutes past STRATUS_METRICS_RETENTION_DAYS (metrics.retention).
    "trim-metrics": {
        "task": "metrics.trim",
        "schedule": envfloat("STRATUS_METRICS_TRIM_INTERVAL", 3600.0),
        "options": {"expires": 600},
    },
}

# The platform.
STRATUS_INSTANCE = envstr("STRATUS_INSTANCE", "stratus")
STRATUS_CODE_DIR = DATA_DIR / "code"
# Environments' socket and code folders: local to each worker host (the
# Docker engine bind-mounts them), and short (Unix socket paths <= 107 bytes).
STRATUS_ENV_DIR = Path(envstr("STRATUS_ENV_DIR", str(DATA_DIR / "envs"))).resolve()
STRATUS_REGION = envstr("STRATUS_REGION", "us-east-1")
# A new Kinesis stream's RetentionPeriodHours (Kinesis's default: 24).
STRATUS_KINESIS_RETENTION_HOURS = envint("STRATUS_KINESIS_RETENTION_HOURS", 24)
STRATUS_KEEP_ALIVE = envint("STRATUS_KEEP_ALIVE", 600)
# Metrics (metrics app): how many days of minute buckets are kept, and the
# token Prometheus sends to GET /metrics ("Authorization: Bearer <token>");
# empty: /metrics is off (404).
STRATUS_METRICS_RETENTION_DAYS = envint("STRATUS_METRICS_RETENTION_DAYS", 30)
STRATUS_METRICS_TOKEN = envstr("STRATUS_METRICS_TOKEN")
STRATUS_REQUEUE_AFTER = envint("STRATUS_REQUEUE_AFTER", 60)
# Dependency builds (functions.dependency_build): the longest an install of
# requirements.txt / package.json may take before it is stopped and failed.
STRATUS_BUILD_TIMEOUT_S = envint("STRATUS_BUILD_TIMEOUT_S", 600)
# Multiplies the async retry backoff (1 min, then 2 min); tests make it short.
STRATUS_RETRY_BACKOFF_SCALE = envfloat("STRATUS_RETRY_BACKOFF_SCALE", 1.0)
STRATUS_MIN_CPUS = envfloat("STRATUS_MIN_CPUS", 0.5)
# /tmp of the pre-warmed generic environments (MB); a function whose
# EphemeralStorage differs starts its environments cold (invocations.pool).
STRATUS_TMP_MB = envint("STRATUS_TMP_MB", 512)
STRATUS_PIDS_LIMIT = envint("STRATUS_PIDS_LIMIT", 256)
STRATUS_NOFILE = envint("STRATUS_NOFILE", 1024)
STRATUS_LOG_CAP = 256 * 1024
# The runtimes offered (Lambda's names), each a folder in runtimes/ whose
# image bin/setup builds (python -m runtimes.build --all); the pool keeps
# STRATUS_POOL_SIZE generic environments of each. STRATUS_RUNTIMES (comma
# separated) offers fewer, e.g. on a small machine.
_ALL_RUNTIMES = "python3.11,python3.13,nodejs20.x,nodejs22.x,provided.al2023"
STRATUS_RUNTIMES = [r.strip() for r in envstr("STRATUS_RUNTIMES", _ALL_RUNTIMES).split(",") if r.strip()]
_unknown_runtimes = [r for r in STRATUS_RUNTIMES if runtime_dockerfile(r) is None]
if _unknown_runtimes or not STRATUS_RUNTIMES:
    raise ImproperSetting(
        f"STRATUS_RUNTIMES names no runtime folder for {', '.join(_unknown_runtimes) or 'any runtime'}; "
        "choose from the folders in runtimes/"
    )
# The node: one Docker engine (the worker's DOCKER_HOST) and the workers that
# use it. Environments belong to a node; a worker leases only its own.
STRATUS_NODE = envstr("STRATUS_NODE") or socket.gethostname()
# How long a sync call may wait for a worker before the platform gives up on
# it; a call given up on is taken off the lane and never runs.
STRATUS_SYNC_QUEUE_WAIT = envfloat("STRATUS_SYNC_QUEUE_WAIT", 30.0)
# Each team's account concurrency limit (Lambda's ConcurrentExecutions);
# 0: three quarters of the lane threads alive, so no team takes them all
# (invocations.concurrency.team_limit). A team's own limit (admin) wins.
STRATUS_TEAM_CONCURRENCY = envint("STRATUS_TEAM_CONCURRENCY", 0)
# Generic environments kept started per runtime and node, for first calls.
STRATUS_POOL_SIZE = envint("STRATUS_POOL_SIZE", 2)
# Their memory (MB) until specialised; a function of another size is resized.
STRATUS_POOL_MEMORY = envint("STRATUS_POOL_MEMORY", 128)
# Seconds between a worker's heartbeats; a worker silent for
# STRATUS_WORKER_LOST_AFTER seconds is gone and its running rows are retried.
STRATUS_HEARTBEAT = envfloat("STRATUS_HEARTBEAT", 5.0)
STRATUS_WORKER_LOST_AFTER = envfloat("STRATUS_WORKER_LOST_AFTER", 20.0)
# Seconds a dead worker's stream shard stays leased before another worker
# takes it over (mappings.stream_poller).
STRATUS_SHARD_LEASE_S = envfloat("STRATUS_SHARD_LEASE_S", 10.0)
# Seconds between a node's maintenance rounds (reaper, pool refill).
STRATUS_REAP_INTERVAL = envfloat("STRATUS_REAP_INTERVAL", 10.0)
# Threads per web process for the database work of the fast doors (Invoke,
# HTTP routes) when their caches miss.
STRATUS_API_THREADS = envint("STRATUS_API_THREADS", 32)
# Buckets (S3): objects' bytes live here, one file per object version.
STRATUS_OBJECTS_DIR = Path(envstr("STRATUS_OBJECTS_DIR", str(DATA_DIR / "objects"))).resolve()
# Seconds after its last write that a spool file nobody has open is left
# over from a killed upload, and removed (buckets.spool_sweep).
STRATUS_SPOOL_MAX_AGE = envfloat("STRATUS_SPOOL_MAX_AGE", 3600.0)
# The largest single PutObject and the largest part of a multipart upload.
# S3 takes 5 GiB; a small self-hosted disk is better served by 1 GiB (boto3
# and the AWS CLI switch to multipart at 8 MB anyway).
STRATUS_S3_MAX_PUT_BYTES = envint("STRATUS_S3_MAX_PUT_BYTES", 1024**3)
# The largest object a multipart upload may complete into (S3: 5 TiB).
STRATUS_S3_MAX_OBJECT_BYTES = envint("STRATUS_S3_MAX_OBJECT_BYTES", 64 * 1024**3)
# Every part but the last must be at least this big (S3: 5 MiB).
STRATUS_S3_MIN_PART_BYTES = envint("STRATUS_S3_MIN_PART_BYTES", 5 * 1024**2)
# boto3 inside functions (docs/architecture.md): the web server a worker
# forwards its environments' AWS calls to (host:port, reached from the
# worker), and how long a function's own credentials live (seconds).
STRATUS_AWS_UPSTREAM = envstr("STRATUS_AWS_UPSTREAM", "127.0.0.1:8000")
STRATUS_FUNCTION_CREDENTIALS_S = envint("STRATUS_FUNCTION_CREDENTIALS_S", 12 * 3600)

# SNS (messaging.sns_signing, messaging.sns_http). Where this platform is
# reached, for the links in SNS messages (SigningCertURL, SubscribeURL,
# UnsubscribeURL); empty: the address each subscription was made through.
STRATUS_PUBLIC_URL = envstr("STRATUS_PUBLIC_URL", "")
# HTTP/S subscriptions: seconds between delivery attempts (SNS: 20) and
# retries after the first attempt (SNS: 3).
STRATUS_SNS_HTTP_RETRY_DELAY = envfloat("STRATUS_SNS_HTTP_RETRY_DELAY", 20.0)
STRATUS_SNS_HTTP_RETRIES = envint("STRATUS_SNS_HTTP_RETRIES", 3)
# Seconds an attempt waits for the endpoint's answer (SNS: 15).
STRATUS_SNS_HTTP_READ_TIMEOUT = envfloat("STRATUS_SNS_HTTP_READ_TIMEOUT", 15.0)
# Certificates of https loopback endpoints: "true" checks them against the
# system's CAs, a path against that CA bundle (a self-signed endpoint's own
# certificate), "false" not at all.
STRATUS_SNS_HTTPS_VERIFY = envstr("STRATUS_SNS_HTTPS_VERIFY", "true")

# Cost (metrics.billing, the Usage page). Lambda's prices in us-east-1 (x86)
# by default: per million requests and per GB-second, in the currency
# named here; the free tier is per team and calendar month.
STRATUS_PRICE_PER_MILLION_REQUESTS = envdecimal("STRATUS_PRICE_PER_MILLION_REQUESTS", "0.20")
STRATUS_PRICE_PER_GB_SECOND = envdecimal("STRATUS_PRICE_PER_GB_SECOND", "0.0000166667")
STRATUS_FREE_TIER_REQUESTS = envdecimal("STRATUS_FREE_TIER_REQUESTS", "1000000")
STRATUS_FREE_TIER_GB_SECONDS = envdecimal("STRATUS_FREE_TIER_GB_SECONDS", "400000")
STRATUS_BILLING_CURRENCY = envstr("STRATUS_BILLING_CURRENCY", "USD")
# Billed duration rounds up to this many ms: 1 (Lambda since December 2020)
# or 100 (the classic model); nothing else is a billing model we know.
STRATUS_BILLING_ROUNDING_MS = envint("STRATUS_BILLING_ROUNDING_MS", 1)
if STRATUS_BILLING_ROUNDING_MS not in (1, 100):
    raise ImproperSetting(
        "STRATUS_BILLING_ROUNDING_MS must be 1 (round up to the millisecond, as Lambda does "
        f"today) or 100 (the classic 100 ms model), got {STRATUS_BILLING_ROUNDING_MS}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"beat_outage": {"()": "console.logfilters.BeatOutageFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("STRATUS_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # A line per task would be several a second (schedules, queue poller).
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING", "filters": ["beat_outage"]},
    },
}

# Each web process keeps provisioned aliases resolved ahead of their first
# call (functions.provisioned_lookup: a thread reading the database).
STRATUS_PRELOAD_PROVISIONED = envbool("STRATUS_PRELOAD_PROVISIONED", True)

# A file that every process appends sync calls' stage marks to (the bench:
# where a call's time goes; invocations.call_marks). Empty: no marks.
STRATUS_CALL_MARKS = envstr("STRATUS_CALL_MARKS", "")
