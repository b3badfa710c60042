"""Veil's settings: every value comes from the environment, read here and nowhere else.

Two shapes of deployment:
- embedded (default): SQLite, a Celery broker on local files, media on local disk, all under VEIL_DATA_DIR;
- production (VEIL_ENV=production): refuses to start without a secret key; PostgreSQL through DATABASE_URL,
  Redis through CELERY_BROKER_URL, media on S3-compatible storage when VEIL_S3_BUCKET is set.
"""

from __future__ import annotations

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


def _secret_key() -> str:
    key = env.text("DJANGO_SECRET_KEY") or env.text("VEIL_SECRET_KEY")
    if key:
        return key
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
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reviewer",
    "api",
]

MIDDLEWARE = [
    "api.middleware.ApiErrorMiddleware",  # outermost: no HTML error page escapes from under /api/
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "api.middleware.NulGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env.integer("VEIL_DB_CONN_MAX_AGE", 60))}
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
if env.text("VEIL_DATABASE_NAME"):
    # Points a process at another database of the same server; the test suite's worker uses it.
    DATABASES["default"]["NAME"] = env.text("VEIL_DATABASE_NAME")
if env.text("VEIL_TEST_DATABASE_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.text("VEIL_TEST_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "reviewer.User"
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
STATIC_ROOT = VEIL_DATA_DIR / "static"
# Embedded mode serves static files straight from static/ (no collectstatic step); production from STATIC_ROOT.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
# Originals are private: MEDIA_ROOT is never served by URL; views in reviewer.views.files check each request.
MEDIA_ROOT = VEIL_DATA_DIR / "media"
MEDIA_URL = "/no-public-media/"
VEIL_EXPORT_DIR = Path(env.text("VEIL_EXPORT_DIR", str(VEIL_DATA_DIR / "exports"))).resolve()
VEIL_UPLOAD_TMP_DIR = VEIL_DATA_DIR / "tmp"
try:  # large uploads spill here, beside the data, instead of filling a small /tmp
    VEIL_UPLOAD_TMP_DIR.mkdir(parents=True, exist_ok=True)
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    FILE_UPLOAD_TEMP_DIR = str(VEIL_UPLOAD_TMP_DIR)
except OSError:
    FILE_UPLOAD_TEMP_DIR = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env.integer("VEIL_MAX_UPLOAD_FILES", 1000, minimum=1)

# The test suite's worker processes write where the test that started them reads.
if env.text("VEIL_TEST_MEDIA_ROOT"):
    MEDIA_ROOT = Path(env.text("VEIL_TEST_MEDIA_ROOT"))
if env.text("VEIL_TEST_EXPORT_DIR"):
    VEIL_EXPORT_DIR = Path(env.text("VEIL_TEST_EXPORT_DIR"))

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
else:
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Veil ---------------------------------------------------------------------------------------------------
VEIL_MAX_IMAGE_PIXELS = env.integer("VEIL_MAX_IMAGE_PIXELS", 100_000_000, minimum=1)
VEIL_MAX_IMAGE_BYTES = env.integer("VEIL_MAX_IMAGE_BYTES", 200 * 1024 * 1024, minimum=1)
VEIL_MAX_ARCHIVE_MEMBERS = env.integer("VEIL_MAX_ARCHIVE_MEMBERS", 2_000_000, minimum=1)
VEIL_THUMBNAIL_SIZE = env.integer("VEIL_THUMBNAIL_SIZE", 256, minimum=32)
VEIL_LEASE_SECONDS = env.integer("VEIL_LEASE_SECONDS", 600, minimum=10)
VEIL_DETECTOR = env.text("VEIL_DETECTOR", "centerface")
VEIL_DETECTION_THRESHOLD = env.number("VEIL_DETECTION_THRESHOLD", 0.2)
VEIL_DETECTION_LONG_SIDE = env.integer("VEIL_DETECTION_LONG_SIDE", 832, minimum=32)
VEIL_DETECTION_CHUNK_SIZE = env.integer("VEIL_DETECTION_CHUNK_SIZE", 16, minimum=1)
VEIL_YUNET_MODEL = env.text("VEIL_YUNET_MODEL")
VEIL_RECONCILE_AFTER_SECONDS = env.integer("VEIL_RECONCILE_AFTER_SECONDS", 900, minimum=10)
VEIL_EXPORT_JPEG_QUALITY = env.integer("VEIL_EXPORT_JPEG_QUALITY", 95, minimum=1)
VEIL_EXPORT_LEAK_THRESHOLD = env.number("VEIL_EXPORT_LEAK_THRESHOLD", 0.2)
VEIL_EXPORT_FAIL_ON_RESIDUAL = env.flag("VEIL_EXPORT_FAIL_ON_RESIDUAL", False)

# --- Celery -------------------------------------------------------------------------------------------------
_broker_dir = VEIL_DATA_DIR / "broker"
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files in the data folder; no server to run. Kombu expects the folders.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
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
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VEIL_DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "reviewer.tasks.reconcile", "schedule": timedelta(seconds=60)},
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
        "ImportStatusEnum": "reviewer.models.ImportJob.Status",
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
CSRF_COOKIE_HTTPONLY = False  # the review page reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = env.flag("VEIL_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env.flag("VEIL_SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("VEIL_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
