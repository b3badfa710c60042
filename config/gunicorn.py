"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Every value can be set from the environment. Defaults, and why:
- workers = 2 x cores + 1 (VEIL_WEB_WORKERS): a request spends part of its time waiting on PostgreSQL, so a
  core serves about two processes; the review page's calls are short (next image 6 statements, submit 8,
  each plus BEGIN and COMMIT) and CPU-bound: about 8 ms of Python per call in these processes and 3 ms in
  PostgreSQL, measured by bench/load.py on 2 cores (README, "Running Veil for a lab"). Threads of one process
  share one interpreter lock, so more processes, not more threads, is what adds Python throughput; on 2 cores
  workers x threads of 2 x 1, 3 x 1, 2 x 4, 4 x 2 and 5 x 4 served 82-108 requests per second to 200 thinking
  reviewers, with no order beyond the noise of a shared machine, so the default stays.
- threads = 4 per worker (VEIL_WEB_THREADS), gthread workers: image files (display copies, thumbnails) are
  streamed while other threads answer JSON. Each thread may hold one PostgreSQL connection for
  VEIL_DB_CONN_MAX_AGE seconds: budget workers x threads connections per web machine in max_connections
  (2 cores: 5 x 4 = 20; PostgreSQL's default max_connections of 100 is shared with the Celery workers).
- timeout 300 s (VEIL_WEB_TIMEOUT): page and API imports run inside the request; very large imports belong
  to `manage.py import_images`. graceful_timeout lets a restart finish saves in flight.
- max_requests with jitter: workers are recycled now and then, so a slow leak never grows without bound.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("VEIL_WEB_BIND", "0.0.0.0:8000")
workers = _int("VEIL_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1)
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
