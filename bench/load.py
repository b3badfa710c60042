"""Many reviewers at once against gunicorn configured as production (config/gunicorn.py), on loopback only.

Uses the database bench/scale.py filled (1.5 M images; run it first). Starts gunicorn on 127.0.0.1 with the
production settings file, then runs, each bounded in time and stopping by itself:
  1. R reviewers (default 200) who think 2-4 s between images: next image, then submit, again and again;
  2. F reviewers (default 50) with no think time;
  3. L logins at once (default 50) through the real login form: the password hasher's cost.
It prints requests per second, p50/p95/p99 per endpoint and the errors, then checks the database: no image
with current reviews by two reviewers, and as many new reviews as submits answered 201.

    .venv/bin/python bench/load.py [--seconds 60] [--reviewers 200] [--fast 50] [--logins 50] [--port 18401]
Target: 0 errors and p95 <= 300 ms for the reviewers with think time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/veil_scale_bench")
parser.add_argument("--port", type=int, default=18401)
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--reviewers", type=int, default=200)
parser.add_argument("--fast", type=int, default=50)
parser.add_argument("--logins", type=int, default=50)
parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: config/gunicorn.py)")
parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: config/gunicorn.py)")
args = parser.parse_args()
HOST = "127.0.0.1"  # loopback only, whatever the arguments

os.environ["DATABASE_URL"] = args.database_url
# The sessions made here must verify in the server: both sign with this key.
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("VEIL_DATA_DIR", str(ROOT / "var" / "bench-load"))
import django

django.setup()
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from reviewer.models import Assignment, Dataset, Review, User


def start_server() -> subprocess.Popen:
    env = {
        **os.environ,
        "VEIL_ENV": "production",
        "VEIL_ALLOWED_HOSTS": HOST,
        "VEIL_SECURE_COOKIES": "0",
        "VEIL_WEB_BIND": f"{HOST}:{args.port}",
        "VEIL_WEB_ACCESS_LOG": os.devnull,
    }
    if args.workers:
        env["VEIL_WEB_WORKERS"] = str(args.workers)
    if args.threads:
        env["VEIL_WEB_THREADS"] = str(args.threads)
    # Production serves hashed static files from a manifest, as a deployment would after collectstatic.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "config/gunicorn.py"), "config.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(ROOT / "var" / "bench-load-gunicorn.log", "w"),  # noqa: SIM115 (gunicorn holds it open)
    )  # fmt: skip
    answer = None
    for _ in range(120):
        try:
            conn = http.client.HTTPConnection(HOST, args.port, timeout=2)
            conn.request("GET", "/accounts/login/", headers=PROXY_HEADERS)
            answer = conn.getresponse().status
            if answer in (200, 302):
                return server
        except OSError as exc:
            answer = exc
        time.sleep(0.5)
    server.terminate()
    sys.exit(f"gunicorn did not start (last answer: {answer}); see var/bench-load-gunicorn.log")


# As the TLS-terminating proxy in front of production does: without it, production's SECURE_SSL_REDIRECT answers
# every request with a 301 to https.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


# The backend a password login records in the session: the first that can load a user (axes' comes first and only
# throttles; a session naming it answers 500 on every request).
LOGIN_BACKEND = next(path for path in settings.AUTHENTICATION_BACKENDS if "axes" not in path.lower())


class Session:
    """One reviewer's cookies over one keep-alive connection."""

    def __init__(self, user: User | None = None):
        self.conn = http.client.HTTPConnection(HOST, args.port, timeout=30)
        self.csrf = secrets.token_hex(16)
        self.cookies = {"csrftoken": self.csrf}
        if user is not None:  # logged in as by the login view, without paying for the hasher each time
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = LOGIN_BACKEND
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            self.cookies["sessionid"] = store.session_key

    def request(self, method: str, path: str, body: dict | str | None = None, form: bool = False):
        headers = {
            **PROXY_HEADERS,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "X-CSRFToken": self.csrf,
            "Referer": f"https://{HOST}:{args.port}/",  # CSRF over https checks the referer, as a browser sends it
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
            data = urllib.parse.urlencode(body) if form else json.dumps(body)
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return None, str(exc), (time.perf_counter() - started) * 1000
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
                if name == "csrftoken":
                    self.csrf = self.cookies[name]
        return response.status, payload, (time.perf_counter() - started) * 1000


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.submitted = 0

    def add(self, endpoint: str, status, ms: float, ok: bool) -> None:
        with self.lock:
            self.times.setdefault(endpoint, []).append(ms)
            if not ok:
                key = f"{endpoint} {status}"
                self.errors[key] = self.errors.get(key, 0) + 1

    def report(self, label: str, seconds: float) -> dict:
        total = sum(len(t) for t in self.times.values())
        print(f"\n{label}: {total} requests in {seconds:.0f} s = {total / seconds:.1f} req/s; "
              f"{sum(self.errors.values())} errors {self.errors or ''}")  # fmt: skip
        out = {}
        for endpoint, times in sorted(self.times.items()):
            times.sort()
            out[endpoint] = (statistics.median(times), _quantile(times, 0.95), _quantile(times, 0.99))
            print(f"  {endpoint:8} n={len(times):6}  p50 {out[endpoint][0]:7.1f} ms  p95 {out[endpoint][1]:7.1f} ms"
                  f"  p99 {out[endpoint][2]:7.1f} ms")  # fmt: skip
        return out


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def reviewer_loop(session: Session, user: User, batch_id: int, think: bool, deadline: float, stats: Stats) -> None:
    rng = random.Random(user.pk)
    time.sleep(rng.uniform(0, 3 if think else 0.2))  # people do not all start in the same millisecond
    while time.monotonic() < deadline:
        status, payload, ms = session.request("POST", f"/api/review/batches/{batch_id}/next", {})
        stats.add("next", status, ms, status == 200)
        if status != 200:
            time.sleep(1)
            continue
        image = json.loads(payload)["image"]
        if image is None:
            return
        if think:
            time.sleep(rng.uniform(2, 4))
        body = {
            "lease_token": image["lease"]["token"],
            "revision": image["revision"],
            "boxes": [{"proposal": p["id"], "fate": "accepted"} for p in image["proposals"]],
            "seconds_spent": 3,
        }
        status, payload, ms = session.request(
            "POST", f"/api/review/batches/{batch_id}/images/{image['id']}/review", body
        )
        stats.add("submit", status, ms, status == 201)
        if status == 201:
            with stats.lock:
                stats.submitted += 1


def open_batches(dataset: Dataset, count: int, skip: int = 0) -> list[tuple[User, int]]:
    """One reviewer each, with one of their batches that still has images to review."""
    chosen, seen = [], set()
    rows = (
        Assignment.objects.filter(batch__dataset=dataset, status="active", batch__images_done__lt=100)
        .select_related("reviewer")
        .order_by("reviewer_id", "batch_id")
    )
    for assignment in rows:
        if assignment.reviewer_id in seen:
            continue
        seen.add(assignment.reviewer_id)
        chosen.append((assignment.reviewer, assignment.batch_id))
    return chosen[skip : skip + count]


def _ticks(pid: int, *, children: bool = False) -> int:
    """CPU time of a process in clock ticks (user + system; with `children`, also of its children reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(v) for v in fields[11 : 15 if children else 13])


def _worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


class CpuMeter:
    """CPU seconds spent during a phase by gunicorn (master, workers, and workers recycled meanwhile: the master
    reaps them), by this client process (its threads), and by the PostgreSQL backends of this database (sampled
    twice a second: web threads replace their connections every VEIL_DB_CONN_MAX_AGE seconds)."""

    def __init__(self, server: subprocess.Popen):
        self.server = server
        self.hz = os.sysconf("SC_CLK_TCK")

    def _sample_postgres(self) -> None:
        while not self.done.wait(0.5):
            self._postgres_once()
        self._postgres_once()
        connection.close()  # this thread's own

    def _postgres_once(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = [row[0] for row in cursor.fetchall()]
        for pid in pids:
            ticks = _ticks(pid)
            self.first.setdefault(pid, 0 if self.started_sampling else ticks)
            self.last[pid] = max(self.last.get(pid, 0), ticks)
        self.started_sampling = True

    def start(self) -> None:
        self.first, self.last, self.started_sampling = {}, {}, False
        self.done = threading.Event()
        self._postgres_once()  # backends already open count from here
        connection.close()
        self.sampler = threading.Thread(target=self._sample_postgres, daemon=True)
        self.sampler.start()
        self.t0 = self._server_ticks(), time.process_time(), time.monotonic()

    def _server_ticks(self) -> int:
        master = self.server.pid
        return _ticks(master, children=True) + sum(_ticks(pid) for pid in _worker_pids(master))

    def stop(self, requests: int) -> dict:
        server, client, wall = self._server_ticks(), time.process_time(), time.monotonic()
        self.done.set()
        self.sampler.join()
        s0, c0, w0 = self.t0
        pg = sum(last - self.first[pid] for pid, last in self.last.items())
        out = {
            "server": (server - s0) / self.hz,
            "client": client - c0,  # includes the sampler thread's few queries
            "postgres": pg / self.hz,
            "wall": wall - w0,
        }
        per = {k: 1000 * out[k] / max(requests, 1) for k in ("server", "client", "postgres")}
        print(f"  CPU per request: server (gunicorn) {per['server']:.1f} ms, client {per['client']:.1f} ms, "
              f"PostgreSQL backends {per['postgres']:.1f} ms; cores busy: server {out['server'] / out['wall']:.2f}, "
              f"client {out['client'] / out['wall']:.2f}, PostgreSQL {out['postgres'] / out['wall']:.2f} of "
              f"{os.cpu_count()}")  # fmt: skip
        return {**out, **{f"{k}_ms": v for k, v in per.items()}}


def phase(label: str, people: list[tuple[User, int]], think: bool, dataset: Dataset, meter: CpuMeter) -> dict:
    stats = Stats()
    if not people:  # --reviewers 0 or --fast 0: the phase is skipped
        return {"result": {}, "errors": 0, "cpu": None}
    since = Review.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # Sessions are made here, in one thread: the client's threads then only speak HTTP (a database connection
    # per simulated reviewer would take the server's connections).
    sessions = [Session(user) for user, _batch_id in people]
    connection.close()
    meter.start()
    started = time.monotonic()
    deadline = started + args.seconds
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        futures = [
            pool.submit(reviewer_loop, session, user, batch_id, think, deadline, stats)
            for session, (user, batch_id) in zip(sessions, people, strict=True)
        ]
    crashed = [f.exception() for f in futures if f.exception() is not None]
    if crashed:  # a simulated reviewer that died is an error too (its own database connection, say)
        stats.errors[f"client {type(crashed[0]).__name__}: {str(crashed[0])[:120]}"] = len(crashed)
    elapsed = time.monotonic() - started
    result = stats.report(label, elapsed)
    cpu = meter.stop(sum(len(t) for t in stats.times.values()))
    connection.close()
    new = Review.objects.filter(id__gt=since, image__dataset=dataset)
    doubled = (
        Review.objects.filter(is_current=True, image__in=new.values("image_id"))
        .values("image_id")
        .annotate(n=django.db.models.Count("reviewer_id", distinct=True))
        .filter(n__gt=1)
        .count()
    )
    print(f"  database: {new.count()} new reviews for {stats.submitted} submits answered 201; "
          f"{doubled} image(s) with current reviews by two reviewers")  # fmt: skip
    assert new.count() == stats.submitted, "a review answered 201 is missing"
    assert doubled == 0, "an image went to two reviewers"
    return {"result": result, "errors": sum(stats.errors.values()), "cpu": cpu}


def logins(count: int) -> None:
    """`count` people log in at the same moment through the login form, with the configured hasher."""
    from django.contrib.auth.hashers import make_password

    users = list(User.objects.filter(username__startswith="scale-r").order_by("username")[:count])
    User.objects.filter(pk__in=[u.pk for u in users]).update(password=make_password("load-bench-password"))
    barrier = threading.Barrier(count)
    times, statuses = [], []

    def one(user):
        session = Session()
        session.request("GET", "/accounts/login/")
        barrier.wait()
        status, _payload, ms = session.request(
            "POST", "/accounts/login/", {"username": user.username, "password": "load-bench-password",
                                          "csrfmiddlewaretoken": session.csrf}, form=True,
        )  # fmt: skip
        times.append(ms)
        statuses.append(status)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(one, users))
    times.sort()
    print(f"\n{count} logins at once ({settings.PASSWORD_HASHERS[0].rsplit('.', 1)[-1]}): all done in "
          f"{time.perf_counter() - started:.1f} s; p50 {statistics.median(times) / 1000:.2f} s, slowest "
          f"{times[-1] / 1000:.2f} s; answers {sorted(set(map(str, statuses)))} (302 = logged in)")  # fmt: skip


def main() -> None:
    dataset = Dataset.objects.filter(name="imagenet-1.5m").first()
    if dataset is None:
        sys.exit("Run bench/scale.py first: it fills the database this benchmark uses.")
    (ROOT / "var").mkdir(exist_ok=True)
    server = start_server()
    print(f"gunicorn -c config/gunicorn.py on {HOST}:{args.port}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    try:
        thinking = open_batches(dataset, args.reviewers)
        fast = open_batches(dataset, args.fast, skip=args.reviewers)
        meter = CpuMeter(server)
        first = phase(f"{len(thinking)} reviewers thinking 2-4 s", thinking, True, dataset, meter)
        second = phase(f"{len(fast)} reviewers without pause", fast, False, dataset, meter)
        if args.logins:
            logins(args.logins)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    p95 = max((p for _p50, p, _p99 in first["result"].values()), default=0)
    verdict = "met" if first["errors"] == 0 and p95 <= 300 else "MISSED"
    print(f"\ntarget (0 errors, p95 <= 300 ms with think time): {verdict}; without pause: {second['errors']} errors")
    print("Reproduce: .venv/bin/python bench/load.py " + " ".join(sys.argv[1:]))


main()
