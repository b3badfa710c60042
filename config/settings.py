"""Veil's settings: every value comes from the environment, read here and nowhere else.

Two shapes of deployment:
- embedded (default): SQLite, a Celery broker on local files, media on local disk, all under VEIL_DATA_DIR;
- production (VEIL_ENV=production): refuses to start without a secret key; PostgreSQL through DATABASE_URL,
  Redis through CELERY_BROKER_URL, media on S3-compatible storage when VEIL_S3_BUCKET is set.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VEIL_VERSION = "0.1.0"

VEIL_ENV = env.text("VEIL_ENV", "embedded").strip().lower()
if VEIL_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(f"VEIL_ENV must be 'embedded' or 'production'; got {VEIL_ENV!r}")
IS_PRODUCTION = VEIL_ENV == "production"

VEIL_DATA_DIR = Path(env.text("VEIL_DATA_DIR", str(BASE_DIR / "var"))).resolve()


# Keys people type when asked for one; production refuses them whatever their length.
_WEAK_KEYS = {"changeme", "change-me", "secret", "password", "build-only", "veil", "django", "test", "dev", "insecure"}
MIN_SECRET_KEY_LENGTH = 50


def _check_production_key(key: str) -> str:
    """Production refuses a short, repetitive or well-known secret key: sessions, CSRF tokens, password-reset
    links and the manifest's pseudonyms are only as safe as it is. Same bar as Django's check --deploy."""
    reason = ""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        reason = f"it is {len(key)} characters long; at least {MIN_SECRET_KEY_LENGTH} are needed"
    elif len(set(key)) < 5:
        reason = f"it has only {len(set(key))} distinct characters"
    elif key.lower() in _WEAK_KEYS or key.startswith("django-insecure"):
        reason = "it is a well-known placeholder"
    if reason:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak for VEIL_ENV=production: {reason}. Set it to a long random string "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    return key


def _secret_key() -> str:
    key = env.text("DJANGO_SECRET_KEY") or env.text("VEIL_SECRET_KEY")
    if key:
        return _check_production_key(key) if IS_PRODUCTION else key
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "VEIL_ENV=production needs a secret key: set DJANGO_SECRET_KEY to a long random string "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    # Embedded mode keeps one generated key in the data folder, so sessions survive restarts.
    path = VEIL_DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VEIL_DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env.flag("VEIL_DEBUG", False)
if DEBUG and IS_PRODUCTION:
    # DEBUG pages show settings, SQL and local variables (a reviewer's photo paths, a token) to anyone.
    raise ImproperlyConfigured(
        "VEIL_DEBUG is on with VEIL_ENV=production: debug pages would show settings and data to any visitor. "
        "Unset VEIL_DEBUG (or use VEIL_ENV=embedded on a machine of your own)."
    )
ALLOWED_HOSTS = env.listing("VEIL_ALLOWED_HOSTS", "" if IS_PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env.listing("VEIL_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reviewer",
    "crowd",
    "api",
]

MIDDLEWARE = [
    "api.middleware.ApiErrorMiddleware",  # outermost: no HTML error page escapes from under /api/
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "crowd.middleware.CrowdFrameMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "reviewer.middleware.UploadStorageMiddleware",  # reads a multipart body first: a disk that refuses it is a 507
    "api.middleware.NulGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.SecurityHeadersMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -----------------------------------------------------------------------------------------------
_database_url = env.text("DATABASE_URL")
if _database_url:
    # Health checks: a persistent connection the server dropped (a restart, a terminated backend) is found and
    # replaced at the start of the next request, instead of failing that request.
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url, conn_max_age=env.integer("VEIL_DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VEIL_DATA_DIR / "veil.sqlite3",
            # The web server and the worker write to one file: wait for the lock instead of failing, and take
            # the write lock at BEGIN so two writers never deadlock on an upgrade.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory, so a Celery worker started by the tests sees the test database.
            "TEST": {"NAME": str(VEIL_DATA_DIR / "test-veil.sqlite3")},
        }
    }
# The reviewer's hot queries (reviewer/prepared.py) run as server-side prepared statements on PostgreSQL, planned
# once per connection. PgBouncer in transaction mode needs max_prepared_statements (1.21+) for that, or set 0.
VEIL_DB_PREPARED_STATEMENTS = env.flag("VEIL_DB_PREPARED_STATEMENTS", True)
if env.text("VEIL_DATABASE_NAME"):
    # Points a process at another database of the same server; the test suite's worker uses it.
    DATABASES["default"]["NAME"] = env.text("VEIL_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "reviewer.User"
# Argon2id (m=19 MiB, t=2, p=1; see config/hashers.py) by default: bench/logins.py measures 50 logins at once
# against PBKDF2. VEIL_PASSWORD_HASHER=pbkdf2 puts PBKDF2 first instead. Both stay listed, so either kind of
# stored hash still verifies, and is re-hashed with the first at the next login.
_HASHERS = {
    "argon2": "config.hashers.VeilArgon2PasswordHasher",
    "pbkdf2": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
}
_first_hasher = env.text("VEIL_PASSWORD_HASHER", "argon2").strip().lower()
if _first_hasher not in _HASHERS:
    raise ImproperlyConfigured(f"VEIL_PASSWORD_HASHER must be argon2 or pbkdf2; got {_first_hasher!r}")
PASSWORD_HASHERS = [_HASHERS[_first_hasher], *(h for k, h in _HASHERS.items() if k != _first_hasher)]
# django-axes first: it refuses a locked-out account or address before a password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.text("VEIL_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files --------------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The image collects static files into itself (VEIL_STATIC_ROOT), so a data volume never hides a newer copy.
STATIC_ROOT = Path(env.text("VEIL_STATIC_ROOT", str(VEIL_DATA_DIR / "static")))
# Embedded mode serves static files straight from static/ (no collectstatic step); production from STATIC_ROOT.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
# Originals are private: MEDIA_ROOT is never served by URL; views in reviewer.views.files check each request.
MEDIA_ROOT = Path(env.text("VEIL_MEDIA_DIR", str(VEIL_DATA_DIR / "media")))  # with VEIL_S3_BUCKET: unused
MEDIA_URL = "/no-public-media/"
VEIL_EXPORT_DIR = Path(env.text("VEIL_EXPORT_DIR", str(VEIL_DATA_DIR / "exports"))).resolve()
VEIL_UPLOAD_TMP_DIR = VEIL_DATA_DIR / "tmp"
# Large uploads spill here, beside the data, instead of filling a small /tmp. Settings only name folders; the
# app makes them when it starts (reviewer.apps), so importing settings writes nothing but embedded mode's key.
FILE_UPLOAD_TEMP_DIR = str(VEIL_UPLOAD_TMP_DIR)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env.integer("VEIL_MAX_UPLOAD_FILES", 1000, minimum=1)

_s3_bucket = env.text("VEIL_S3_BUCKET")
if _s3_bucket:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": env.text("VEIL_S3_ENDPOINT_URL") or None,
            "region_name": env.text("VEIL_S3_REGION") or None,
            "location": env.text("VEIL_S3_PREFIX", "veil"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    # Export archives and leak crops beside the media, under their own prefix: a worker on one machine writes
    # them, the web process on another streams them through the permission-checked download view.
    _export_storage = {
        **_media_storage,
        "OPTIONS": {**_media_storage["OPTIONS"], "location": f"{env.text('VEIL_S3_PREFIX', 'veil')}/exports"},
    }
else:
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    _export_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VEIL_EXPORT_DIR},
    }
STORAGES = {
    "default": _media_storage,
    "exports": _export_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Veil ---------------------------------------------------------------------------------------------------
VEIL_MAX_IMAGE_PIXELS = env.integer("VEIL_MAX_IMAGE_PIXELS", 100_000_000, minimum=1)
VEIL_MAX_IMAGE_BYTES = env.integer("VEIL_MAX_IMAGE_BYTES", 200 * 1024 * 1024, minimum=1)
# Every member of an archive costs a worker a few ms even when it is junk (a 20,000-member zip of 1.9 MB took 95 s):
# 10,000 holds ImageNet's per-class archives (1,300) and a day's batch; larger sets come as several archives, a
# folder (`import_images`), or with this raised.
VEIL_MAX_ARCHIVE_MEMBERS = env.integer("VEIL_MAX_ARCHIVE_MEMBERS", 10_000, minimum=1)
VEIL_THUMBNAIL_SIZE = env.integer("VEIL_THUMBNAIL_SIZE", 256, minimum=32)
VEIL_LEASE_SECONDS = env.integer("VEIL_LEASE_SECONDS", 600, minimum=10)
# Leases one reviewer may hold at once: the review page needs the image on screen, the next one fetched ahead and
# those whose saves are in flight. Taking one more releases the least recently renewed.
VEIL_LEASES_PER_REVIEWER = env.integer("VEIL_LEASES_PER_REVIEWER", 4, minimum=2)
VEIL_DETECTOR = env.text("VEIL_DETECTOR", "centerface")
VEIL_DETECTION_THRESHOLD = env.number("VEIL_DETECTION_THRESHOLD", 0.2)
VEIL_DETECTION_LONG_SIDE = env.integer("VEIL_DETECTION_LONG_SIDE", 832, minimum=32)
VEIL_DETECTION_CHUNK_SIZE = env.integer("VEIL_DETECTION_CHUNK_SIZE", 16, minimum=1)
# Chunks of one run sent to the broker and not finished, at most: the rest wait in the database and are sent as
# others finish (reconcile tops a run up if that chain breaks). Keep it above the worker processes of the fleet
# (2x is comfortable), so none waits for work; the queue then holds a few hundred small messages, not 94 k.
VEIL_DETECTION_IN_FLIGHT = env.integer("VEIL_DETECTION_IN_FLIGHT", 128, minimum=1)
VEIL_YUNET_MODEL = env.text("VEIL_YUNET_MODEL")
VEIL_RECONCILE_AFTER_SECONDS = env.integer("VEIL_RECONCILE_AFTER_SECONDS", 900, minimum=10)
VEIL_EXPORT_JPEG_QUALITY = env.integer("VEIL_EXPORT_JPEG_QUALITY", 95, minimum=1)
VEIL_EXPORT_LEAK_THRESHOLD = env.number("VEIL_EXPORT_LEAK_THRESHOLD", 0.2)
VEIL_EXPORT_FAIL_ON_RESIDUAL = env.flag("VEIL_EXPORT_FAIL_ON_RESIDUAL", False)
# A renderer writes Export.heartbeat_at this often; one whose heartbeat is older than the stale age is taken for
# lost (reconcile restarts it). reviewer/checks.py refuses a stale age shorter than three heartbeats.
VEIL_EXPORT_HEARTBEAT_SECONDS = env.integer("VEIL_EXPORT_HEARTBEAT_SECONDS", 5, minimum=1)
VEIL_EXPORT_STALE_SECONDS = env.integer("VEIL_EXPORT_STALE_SECONDS", 120, minimum=3)
# An export is rendered in chunks of this many approved images, each a task any worker takes
# (reviewer/services/export.py).
VEIL_EXPORT_CHUNK_SIZE = env.integer("VEIL_EXPORT_CHUNK_SIZE", 64, minimum=1)
# Chunks of one export sent to the broker and not finished, at most: the rest wait in the database and are sent as
# others finish (reconcile tops an export up if that chain breaks). Keep it above the worker processes of the fleet
# (2x is comfortable), so none waits for work. A chunk sent long ago and still queued is then a lost message, not
# one waiting its turn behind 23 k others, and reconcile does not send the queue's tail again.
VEIL_EXPORT_IN_FLIGHT = env.integer("VEIL_EXPORT_IN_FLIGHT", 64, minimum=1)
# One chunk's soft time limit in seconds (its hard limit is a minute more); the export as a whole has none.
VEIL_EXPORT_CHUNK_TIME_LIMIT = env.integer("VEIL_EXPORT_CHUNK_TIME_LIMIT", 900, minimum=1)
# The same for a detection chunk: a worker on it writes DetectionChunk.heartbeat_at this often, and reconcile
# sends again a running chunk whose heartbeat is older than the stale age (its worker was killed). With beat
# sending reconcile every VEIL_RECONCILE_EVERY_SECONDS, a killed worker's chunk is sent again within stale +
# every seconds (60 s at the defaults). reviewer/checks.py holds these numbers together.
VEIL_WORKER_HEARTBEAT_SECONDS = env.integer("VEIL_WORKER_HEARTBEAT_SECONDS", 5, minimum=1)
VEIL_WORKER_STALE_SECONDS = env.integer("VEIL_WORKER_STALE_SECONDS", 30, minimum=3)
VEIL_RECONCILE_EVERY_SECONDS = env.integer("VEIL_RECONCILE_EVERY_SECONDS", 30, minimum=1)
# /health and the health page call reconcile late (and /health answers 503) when its last successful run is older.
VEIL_RECONCILE_LATE_SECONDS = env.integer("VEIL_RECONCILE_LATE_SECONDS", 300, minimum=10)

# --- Celery -------------------------------------------------------------------------------------------------
_broker_dir = VEIL_DATA_DIR / "broker"
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files in the data folder; no server to run. Kombu expects the folders,
    # which the app makes when it starts (VEIL_DATA_FOLDERS, below).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.5,
    }
else:
    # A message not acknowledged within the visibility timeout is redelivered; the reconcile step covers
    # the rest. Longer than the longest task's hard time limit (an export: 3 h 05), so a slow export is never
    # delivered twice while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
# Folders the app makes when it starts (reviewer.apps.ReviewerConfig.ready), not when settings are read.
VEIL_DATA_FOLDERS = [VEIL_UPLOAD_TMP_DIR, STATIC_ROOT]
if CELERY_BROKER_URL.startswith("filesystem://"):
    VEIL_DATA_FOLDERS += [_broker_dir / folder for folder in ("queue", "processed", "control")]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None  # the database is the source of truth; tasks return nothing anyone waits on
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ROUTES = ("reviewer.jobs.route_task",)  # each task on its queue, from reviewer/jobs.py
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VEIL_DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # On its own queue (reviewer.jobs.RECONCILE_QUEUE; a system check holds the two together), so it never waits
    # behind the backlog it is there to rescue. Workers consume both queues (bin/run, docker-compose.yml).
    "reconcile": {
        "task": "reviewer.tasks.reconcile",
        "schedule": timedelta(seconds=VEIL_RECONCILE_EVERY_SECONDS),
        "options": {"queue": "reconcile"},
    },
}

# --- REST framework -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an anonymous request is told 401 with `WWW-Authenticate: Bearer`; sessions (the pages'
    # JavaScript) keep DRF's CSRF check.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsSignedIn"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.renderers.JSONFallbackNegotiation",
    "DEFAULT_SCHEMA_CLASS": "api.schema.VeilAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Veil API",
    "DESCRIPTION": (
        "Anonymise image datasets with people in the loop. Lists are keyset-paginated "
        "(`results`, `next`, `previous`; follow `next`), filter with `?field=value` and sort with `?ordering=`. "
        "Every error is `{detail, code}` (plus `errors` per field on a 400)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "PREPROCESSING_HOOKS": ["api.schema.only_v1"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ImageStatusEnum": "reviewer.models.Image.Status",
        "DetectionRunStatusEnum": "reviewer.models.DetectionRun.Status",
        "JobStatusEnum": "reviewer.models.Export.Status",
        "AssignmentStatusEnum": "reviewer.models.Assignment.Status",
        "BoxFateEnum": "reviewer.models.ReviewBox.Fate",
        "CandidateFateEnum": "reviewer.models.ReviewCandidate.Fate",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from validator.swagger.io: the docs page makes no request outside Veil.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -----------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Database sessions (Django's table and rules), with the per-request read compiled once: config/sessions.py.
SESSION_ENGINE = "config.sessions"
CSRF_COOKIE_HTTPONLY = False  # the review page reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
# The address people reach Veil at, for links printed by commands (manage.py invite).
VEIL_BASE_URL = env.text("VEIL_BASE_URL", "http://127.0.0.1:8000")
# Who may show the crowd pages in a frame (crowd/middleware.py): MTurk's ExternalQuestion by default.
VEIL_CROWD_FRAME_ANCESTORS = env.listing(
    "VEIL_CROWD_FRAME_ANCESTORS", "https://www.mturk.com,https://workersandbox.mturk.com"
)
for _origin in VEIL_CROWD_FRAME_ANCESTORS:
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?", _origin):
        raise ImproperlyConfigured(
            f"VEIL_CROWD_FRAME_ANCESTORS holds origins like https://www.mturk.com; got {_origin!r}"
        )
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy and Permissions-Policy, sent by config.security.SecurityHeadersMiddleware. Scripts and
# style sheets only from Veil's own static files: no inline script anywhere. Inline style *attributes* stay
# allowed (progress bars are drawn with style="width: N%"); they cannot run code.
VEIL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
VEIL_PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), interest-cohort=()"
)
# HTTPS: on by default in production (behind a proxy that terminates TLS and sets X-Forwarded-Proto).
SECURE_SSL_REDIRECT = env.flag("VEIL_SSL_REDIRECT", IS_PRODUCTION)
# A load balancer probes /health on the web process directly, over plain HTTP; it answers JSON with no session.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env.integer("VEIL_HSTS_SECONDS", 31_536_000 if IS_PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("VEIL_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading puts the domain in browsers' built-in lists, hard to undo: an operator's choice, not a default.
SECURE_HSTS_PRELOAD = env.flag("VEIL_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = env.flag("VEIL_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env.flag("VEIL_SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes), per account and, separately, per address: after VEIL_LOGIN_FAILURE_LIMIT
# wrong passwords for one user name, or VEIL_LOGIN_ADDRESS_FAILURE_LIMIT from one address (a lab behind one NAT
# shares it: config/login_throttle.py), further tries are refused with the lockout page (HTTP 429) until
# VEIL_LOGIN_COOLOFF_MINUTES pass; a successful login resets the account's count.
AXES_HANDLER = "config.login_throttle.LoginThrottle"
AXES_FAILURE_LIMIT = env.integer("VEIL_LOGIN_FAILURE_LIMIT", 5, minimum=1)
VEIL_LOGIN_ADDRESS_FAILURE_LIMIT = env.integer("VEIL_LOGIN_ADDRESS_FAILURE_LIMIT", 50, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("VEIL_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
# Behind VEIL_PROXY_COUNT proxies, the client's address is the one the outermost proxy put in X-Forwarded-For;
# with none (the default), REMOTE_ADDR, since anyone can send an X-Forwarded-For header.
VEIL_PROXY_COUNT = env.integer("VEIL_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("VEIL_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
