"""Django settings for Wangge. Everything that differs between installations comes from the environment."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

env = environ.Env()
# A local .env (never committed) may hold DATABASE_URL and keys for a developer machine.
environ.Env.read_env(PROJECT_DIR / ".env", overwrite=False)

DEBUG = env.bool("WANGGE_DEBUG", default=False)
# The default secret is only for the embedded demo install; deploy docs require WANGGE_SECRET_KEY.
SECRET_KEY = env.str("WANGGE_SECRET_KEY", default="wangge-insecure-demo-secret-change-me")
ALLOWED_HOSTS = env.list("WANGGE_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("WANGGE_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "wangge.core",
    "wangge.accounts",
    "wangge.audit",
    "wangge.territory",
    "wangge.registry",
    "wangge.party",
    "wangge.events",
    "wangge.open311",
    "wangge.exchange",
    "wangge.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wangge.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "wangge.urls"
WSGI_APPLICATION = "wangge.wsgi.application"

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
                "django.template.context_processors.i18n",
                "wangge.core.context_processors.site",
            ],
        },
    },
]

DATA_DIR = Path(env.str("WANGGE_DATA_DIR", default=str(PROJECT_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'wangge.sqlite3'}")}
# Keep connections between requests (a new PostgreSQL connection per request cost ~60% of a create).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("WANGGE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that reads the socket instead of a `SELECT 1` round trip.
    DATABASES["default"]["ENGINE"] = "wangge.core.pgbackend"
    # Server-side parameters: psycopg prepares a statement run five times on a connection, so the
    # repeated queries of the hot paths (detail, intake) skip PostgreSQL's planner. Off behind a
    # transaction-mode pooler that cannot keep prepared statements (docs/deploy.md).
    if env.bool("WANGGE_PG_PREPARE", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})
        DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the task worker share one file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("WANGGE_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Uploads above this are refused with a clear message (import files).
WANGGE_MAX_UPLOAD_BYTES = env.int("WANGGE_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)

# --- personal data -------------------------------------------------------------------------------
# WANGGE_ENCRYPTION_KEYS: comma-separated "keyid:base64-32-bytes", the first one encrypts; the rest
# only decrypt (old keys during rotation). WANGGE_HASH_KEY keys the HMAC used for exact search.
# The defaults exist only so the demo runs out of the box; they are printed as a warning by `check`.
DEMO_ENCRYPTION_KEY = "demo:d2FuZ2dlLWRlbW8ta2V5LW5vdC1mb3ItcHJvZC11c2U="
WANGGE_ENCRYPTION_KEYS = env.list("WANGGE_ENCRYPTION_KEYS", default=[DEMO_ENCRYPTION_KEY])
WANGGE_HASH_KEY = env.str("WANGGE_HASH_KEY", default="demo-hash-key-do-not-use-in-production")

# --- map -----------------------------------------------------------------------------------------
# No tiles by default: government intranets have no internet. Point this at an intranet tile server.
WANGGE_TILE_URL = env.str("WANGGE_TILE_URL", default="")
WANGGE_TILE_ATTRIBUTION = env.str("WANGGE_TILE_ATTRIBUTION", default="")

# --- events --------------------------------------------------------------------------------------
# Working periods of a working day (time limits in working hours/days are counted inside them).
WANGGE_WORK_PERIODS = env.list("WANGGE_WORK_PERIODS", default=["08:30-12:00", "14:00-17:30"])
# Below this classifier confidence an event goes to the human triage queue.
WANGGE_CLASSIFY_THRESHOLD = env.float("WANGGE_CLASSIFY_THRESHOLD", default=0.6)
# Duplicate search window: same category within this distance (m) and time (hours).
WANGGE_DEDUPE_METRES = env.float("WANGGE_DEDUPE_METRES", default=100.0)
WANGGE_DEDUPE_HOURS = env.float("WANGGE_DEDUPE_HOURS", default=72.0)
# A new report at least this similar (character bigrams) to an open one at the same place stays in the
# triage queue as a likely duplicate, for a person to merge or let through.
WANGGE_DEDUPE_SIMILARITY = env.float("WANGGE_DEDUPE_SIMILARITY", default=0.5)
# A 特急 (critical) report from any channel — not only a wearable SOS or a life-safety sensor — gets the
# SOS watch: acknowledged within minutes along the on-duty chain, day and night.
WANGGE_SOS_WATCH_CRITICAL = env.bool("WANGGE_SOS_WATCH_CRITICAL", default=True)
# Open311 GeoReport v2: the jurisdiction_id this endpoint answers to (optional in requests; any other
# value is a 404), and the contact shown by discovery.
WANGGE_OPEN311_JURISDICTION = env.str("WANGGE_OPEN311_JURISDICTION", default="wangge.local")
WANGGE_OPEN311_CONTACT = env.str("WANGGE_OPEN311_CONTACT", default="")
# Notification channels: dotted paths of wangge.events.notify.Channel classes (built in: LogChannel,
# EmailChannel; adapters: SmsChannel, WeComChannel posting to an intranet gateway URL below).
WANGGE_NOTIFY_CHANNELS = env.list("WANGGE_NOTIFY_CHANNELS", default=["wangge.events.notify.LogChannel"])
WANGGE_SMS_URL = env.str("WANGGE_SMS_URL", default="")
WANGGE_SMS_TOKEN = env.str("WANGGE_SMS_TOKEN", default="")
WANGGE_WECOM_URL = env.str("WANGGE_WECOM_URL", default="")
WANGGE_WECOM_TOKEN = env.str("WANGGE_WECOM_TOKEN", default="")
# Delivery is at least once: a failed send is retried after BASE × 2^(attempt−1) seconds (60, 120, 240 …,
# at most a day) until MAX_ATTEMPTS sends have failed; then the notification is 发送失败 for good (1 = no
# retries). A worker's claim on a row lasts CLAIM_SECONDS; a row still claimed after that (the worker
# died mid-send) is taken up again.
WANGGE_NOTIFY_RETRY_BASE_SECONDS = env.int("WANGGE_NOTIFY_RETRY_BASE_SECONDS", default=60)
WANGGE_NOTIFY_MAX_ATTEMPTS = env.int("WANGGE_NOTIFY_MAX_ATTEMPTS", default=6)
WANGGE_NOTIFY_CLAIM_SECONDS = env.int("WANGGE_NOTIFY_CLAIM_SECONDS", default=600)
# Stages whose red (overdue) limit escalates the event one level up automatically; empty = never.
WANGGE_AUTO_ESCALATE = env.list("WANGGE_AUTO_ESCALATE", default=["handle"])
# A reporter who is not satisfied may have the event reopened within this many days of closing.
WANGGE_REOPEN_DAYS = env.int("WANGGE_REOPEN_DAYS", default=7)
# MQTT sensors and wearables (`wangge mqtt`): broker URL (mqtt:// or mqtts://, user:password@ allowed)
# and the topic prefix; devices publish to {prefix}/{device_id}/alarm and {prefix}/{device_id}/sos.
WANGGE_MQTT_URL = env.str("WANGGE_MQTT_URL", default="mqtt://127.0.0.1:1883")
WANGGE_MQTT_TOPIC_PREFIX = env.str("WANGGE_MQTT_TOPIC_PREFIX", default="wangge/devices")

# --- tasks ---------------------------------------------------------------------------------------
# Default: the database backend (a `wangge db_worker` process started by `make run`).
# Production: django_tasks_rq.RQBackend with Redis (see docs/deploy.md).
TASKS = {
    "default": {
        "BACKEND": env.str("WANGGE_TASK_BACKEND", default="django_tasks_db.backend.DatabaseBackend"),
    }
}
WANGGE_REDIS_URL = env.str("WANGGE_REDIS_URL", default="")
if "django_tasks_rq" in TASKS["default"]["BACKEND"]:
    # Production: Redis-backed RQ workers (`pip install '.[redis]'`, then `wangge rqworker`).
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": WANGGE_REDIS_URL or "redis://127.0.0.1:6379/0"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "wangge.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "wangge.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "wangge.core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wangge API",
    "DESCRIPTION": "网格化基层治理平台 API。错误统一为 {code, message, details}。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No call to validator.swagger.io from the docs page: intranets are closed (I6).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field named "kind"; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "OrganisationKindEnum": "wangge.registry.models.OrganisationKind",
        "KeyGroupKindEnum": "wangge.registry.models.KeyGroup.Kind",
        "MemberUnitKindEnum": "wangge.party.models.MemberUnitKind",
        "ImportKindEnum": "wangge.exchange.models.ImportKind",
        "HandlingUnitKindEnum": "wangge.events.models.HandlingUnit.Kind",
        "DeviceKindEnum": "wangge.events.models.Device.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("WANGGE_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request lines carry query strings; personal values never go in URLs, but keep them quiet anyway.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}

DEMO_PASSWORD = env.str("WANGGE_DEMO_PASSWORD", default="demo12345")
