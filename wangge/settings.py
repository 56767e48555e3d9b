"""Django settings for Wangge. Everything that differs between installations comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ

from wangge.core.security import tile_origin

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

env = environ.Env()
# A local .env (never committed) may hold DATABASE_URL and keys for a developer machine.
environ.Env.read_env(PROJECT_DIR / ".env", overwrite=False)

DEBUG = env.bool("WANGGE_DEBUG", default=False)
# The default secret is only for the embedded demo install; deploy docs require WANGGE_SECRET_KEY.
SECRET_KEY = env.str("WANGGE_SECRET_KEY", default="wangge-insecure-demo-secret-change-me")
# Earlier secret keys, still accepted for what was signed with them (reporters' tracking links).
SECRET_KEY_FALLBACKS = env.list("WANGGE_SECRET_KEY_FALLBACKS", default=[])
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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "wangge.core",
    "wangge.accounts",
    "wangge.audit",
    "wangge.territory",
    "wangge.registry",
    "wangge.party",
    "wangge.clock",
    "wangge.notify",
    "wangge.events",
    "wangge.open311",
    "wangge.exchange",
    "wangge.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "wangge.core.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user chose English with the switch; never Accept-Language (wangge/core/locale.py).
    "wangge.core.locale.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wangge.core.middleware.RequestContextMiddleware",
    "wangge.core.nul.RefuseNulMiddleware",
    "wangge.accounts.middleware.SecondFactorMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged during sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
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
    # Django's own backend: a health check that read the socket instead of its `SELECT 1` gained nothing
    # measurable in a paired bench (issue 17; wangge/core/db/README.md), so it was removed.
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
# django-axes first: it refuses a locked-out username/address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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

# --- sign-in throttling (django-axes) and second factor (django-otp TOTP); docs/deploy.md#sign-in ----
# After WANGGE_LOGIN_FAILURE_LIMIT failures (wrong password or wrong one-time code) the username, and
# separately the client address, are refused for WANGGE_LOGIN_COOLOFF_MINUTES (each further attempt
# restarts the wait). WANGGE_LOGIN_LOCKOUT_BY: comma-separated parameters, each locking on its own;
# "username+ip_address" locks only that pair (for offices whose staff share one NAT address).
AXES_ENABLED = env.bool("WANGGE_LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = env.int("WANGGE_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("WANGGE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    p.split("+") if "+" in p else p
    for p in env.list("WANGGE_LOGIN_LOCKOUT_BY", default=["username", "ip_address"])
]
# The same client address as audit rows (behind the proxy documented in docs/deploy.md).
AXES_CLIENT_IP_CALLABLE = "wangge.core.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "wangge.accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp", "otp_token"]
# Attempt rows (axes admin) are the lockout state; successes and failures are audited by our views.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
OTP_TOTP_ISSUER = env.str("WANGGE_OTP_ISSUER", default="网格化治理平台")
# The admin never shows a device's secret or QR code: only its owner sees it, once, while enrolling.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

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
# An .xlsx is a zip: bound what it may inflate to (zip bombs), in total and as a ratio per part.
WANGGE_MAX_UNCOMPRESSED_BYTES = env.int("WANGGE_MAX_UNCOMPRESSED_BYTES", default=2 * 1024 * 1024 * 1024)
WANGGE_MAX_COMPRESSION_RATIO = env.int("WANGGE_MAX_COMPRESSION_RATIO", default=200)
# A running import whose worker has not reported for this long is taken as dead (killed, OOM) and is
# failed with exactly what was imported, so it can be re-run (wangge.exchange.services.import_jobs_expire).
WANGGE_IMPORT_LEASE_SECONDS = env.int("WANGGE_IMPORT_LEASE_SECONDS", default=600)

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
# Or a base map from one file: an MBTiles file of raster (PNG/JPEG) tiles, served by Wangge itself at
# /tiles/{z}/{x}/{y}.png (read-only). Takes precedence over WANGGE_TILE_URL.
WANGGE_BASEMAP_MBTILES = env.str("WANGGE_BASEMAP_MBTILES", default="")
# How many reverse proxies of ours stand in front (each appends to X-Forwarded-For). 0: the client
# talks to Wangge directly and X-Forwarded-For is ignored (a client could write anything there).
WANGGE_PROXY_HOPS = env.int("WANGGE_PROXY_HOPS", default=0)

# --- HTTPS and security headers (docs/deploy.md#https-and-security-headers) ------------------------
# WANGGE_HTTPS: the site is reached only over https (TLS at nginx or at the app server). Then the
# session and CSRF cookies are Secure, HSTS is sent and plain http is redirected to https.
WANGGE_HTTPS = env.bool("WANGGE_HTTPS", default=False)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO=https", the header the proxy sets (and
# overwrites) on https requests. Without it Django sees http and the redirect would loop.
if _proxy_ssl_header := env.str("WANGGE_PROXY_SSL_HEADER", default=""):
    # Also accepted as the plain header name ("X-Forwarded-Proto=https"): Django wants the META key.
    _name, _, _value = _proxy_ssl_header.partition("=")
    _name = _name.strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (
        _name if _name.startswith("HTTP_") else f"HTTP_{_name}",
        _value.strip() or "https",
    )
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = WANGGE_HTTPS
# A signed-in page session ends after this many hours (Django's default is two weeks; 等保 level 3 asks
# that sessions end by themselves). 12 h: one working day on a shared office PC or a lost phone.
SESSION_COOKIE_AGE = env.int("WANGGE_SESSION_HOURS", default=12) * 3600
SECURE_SSL_REDIRECT = env.bool("WANGGE_SSL_REDIRECT", default=WANGGE_HTTPS)
SECURE_HSTS_SECONDS = env.int("WANGGE_HSTS_SECONDS", default=31536000 if WANGGE_HTTPS else 0)
# includeSubDomains covers hosts below this site's own name only (wangge.example.gov.cn → *.wangge…).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("WANGGE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("WANGGE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS: list[str] = []
if not SECURE_HSTS_PRELOAD:
    # "preload" only asks to join the browsers' built-in list (hstspreload.org), which an intranet host
    # cannot; a public host sets WANGGE_HSTS_PRELOAD=true and gets the check back.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): every script and style is a same-origin file, so no inline code;
# images may also come from the intranet tile server. Swagger UI and ReDoc widen it on their views only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *filter(None, [tile_origin(WANGGE_TILE_URL)])],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
    }
}
# Permissions-Policy: the report and patrol pages locate the user; a photo field may open the camera
# (<input capture>); nothing uses the other features.
WANGGE_PERMISSIONS_POLICY = {
    "geolocation": ["self"],
    "camera": ["self"],
    **{
        feature: []
        for feature in (
            "accelerometer autoplay display-capture encrypted-media fullscreen gyroscope magnetometer "
            "microphone midi payment picture-in-picture publickey-credentials-get screen-wake-lock "
            "serial usb xr-spatial-tracking"
        ).split()
    },
}
# Anonymous access to /api/schema/, /api/docs/ and /api/redoc/ (on for the demo; off in production,
# where only signed-in staff accounts read them).
WANGGE_PUBLIC_API_DOCS = env.bool("WANGGE_PUBLIC_API_DOCS", default=True)

# --- events --------------------------------------------------------------------------------------
# Working periods of a working day (time limits in working hours/days are counted inside them).
WANGGE_WORK_PERIODS = env.list("WANGGE_WORK_PERIODS", default=["08:30-12:00", "14:00-17:30"])
# Days before 1 January from which the admin warns that next year's holidays are not known yet.
WANGGE_CALENDAR_WARN_DAYS = env.int("WANGGE_CALENDAR_WARN_DAYS", default=92)
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
# Notification channels: dotted paths of wangge.notify.channels.Channel classes (built in: LogChannel,
# EmailChannel; adapters: SmsChannel, WeComChannel posting to an intranet gateway URL below). The former
# paths wangge.events.notify.<Name> of the built-in channels still work.
WANGGE_NOTIFY_CHANNELS = env.list("WANGGE_NOTIFY_CHANNELS", default=["wangge.notify.channels.LogChannel"])
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
# The reporter's 核查/评价 on the tracking page and /api/v1/track/ (wangge.events.common.reporter), as
# django-ratelimit rates "count/period" (s, m, h, d): every action per client address; wrong reporter
# tokens per address and per tracking code (reached: no token is tried until the window ends).
WANGGE_REPORTER_ACTION_RATE = env.str("WANGGE_REPORTER_ACTION_RATE", default="60/h")
WANGGE_REPORTER_FAIL_RATE = env.str("WANGGE_REPORTER_FAIL_RATE", default="10/h")
WANGGE_REPORTER_CODE_FAIL_RATE = env.str("WANGGE_REPORTER_CODE_FAIL_RATE", default="10/h")
# The live "匹配到：…" under the address field of 我要说 and the hotline form, per client address
# (django-ratelimit rate); and the score from which an address alone places a report (territory.addresses).
WANGGE_ADDRESS_MATCH_RATE = env.str("WANGGE_ADDRESS_MATCH_RATE", default="60/m")
WANGGE_ADDRESS_MATCH_THRESHOLD = env.float("WANGGE_ADDRESS_MATCH_THRESHOLD", default=0.75)
# MQTT sensors and wearables (`wangge mqtt`): broker URL (mqtt:// or mqtts://, user:password@ allowed)
# and the topic prefix; devices publish to {prefix}/{device_id}/alarm and {prefix}/{device_id}/sos.
WANGGE_MQTT_URL = env.str("WANGGE_MQTT_URL", default="mqtt://127.0.0.1:1883")
WANGGE_MQTT_TOPIC_PREFIX = env.str("WANGGE_MQTT_TOPIC_PREFIX", default="wangge/devices")

# --- cache ---------------------------------------------------------------------------------------
# Holds rate-limit counters (WANGGE_REPORTER_*_RATE). The default, memory of each process, is enough for
# `wangge serve`; with several gunicorn workers or app servers set WANGGE_CACHE_URL (redis://host:6379/1,
# pymemcache://host:11211) so all of them count the same attempts.
CACHES = {"default": env.cache_url("WANGGE_CACHE_URL", default="locmemcache://")}

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
    # JSON bodies are bounded in depth and refuse NUL characters (wangge/core/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "wangge.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
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
    "SERVE_PERMISSIONS": ["wangge.core.permissions.ApiDocsPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No call to validator.swagger.io from the docs page: intranets are closed (I6).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The enum hook is drf-spectacular's default; ours documents the {code, message, details} errors.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "wangge.core.schema.add_error_responses",
    ],
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
