"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Every value can be set from the environment. Defaults, and why:
- workers = one per core, at least 2 (VEIL_WEB_WORKERS): the review page's calls are short and CPU-bound
  (next image 6 queries, submit 8; about 8 ms of Python per call in these processes and 3 ms in PostgreSQL,
  measured by bench/load.py on 2 cores; README, "Running Veil for a lab"), so more processes than cores only
  take turns on them and lengthen the tail. On the 2-core machine (PostgreSQL and the bench's client on the
  same cores), 200 reviewers thinking 2-4 s, `bench/load.py --fast 0 --logins 0 --seconds 45 --workers N`
  alternating N: p95 of next image 2 workers 112, 171, 239 ms against 5 workers (the earlier 2 x cores + 1)
  353, 478, 776 ms, at the same 107-119 requests per second.
- threads = 4 per worker (VEIL_WEB_THREADS), gthread workers: image files (display copies, thumbnails) are
  streamed while other threads answer JSON. Each thread may hold one PostgreSQL connection for
  VEIL_DB_CONN_MAX_AGE seconds: budget workers x threads connections per web machine in max_connections
  (2 cores: 2 x 4 = 8; PostgreSQL's default max_connections of 100 is shared with the Celery workers).
- timeout 300 s (VEIL_WEB_TIMEOUT): page and API imports run inside the request; very large imports belong
  to `manage.py import_images`. graceful_timeout lets a restart finish saves in flight.
- max_requests with jitter: workers are recycled now and then, so a slow leak never grows without bound.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("VEIL_WEB_BIND", "0.0.0.0:8000")
workers = _int("VEIL_WEB_WORKERS", max(2, multiprocessing.cpu_count()))
threads = _int("VEIL_WEB_THREADS", 4)
worker_class = "gthread"
timeout = _int("VEIL_WEB_TIMEOUT", 300)
graceful_timeout = _int("VEIL_WEB_GRACEFUL_TIMEOUT", 30)
keepalive = 5
backlog = 2048
max_requests = _int("VEIL_WEB_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("VEIL_WEB_ACCESS_LOG", "-")
errorlog = "-"
