"""A login stampede: N people log in at the same moment, against gunicorn as `make run` starts it.

Runs the stampede once per password hasher (PBKDF2, Django's default, is the baseline; Argon2id), each with its
users hashed by that hasher and the server's first hasher set to it, and prints wall time and latencies.

    .venv/bin/python bench/logins.py [--logins 50] [--port 18800]

Uses DATABASE_URL when set (PostgreSQL), else a temporary SQLite database. Login throttling does not interfere:
every login is a right password.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "stampede-pass-4821"


def _env(data_dir: str, hasher: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    env.update(VEIL_DATA_DIR=data_dir, VEIL_PASSWORD_HASHER=hasher, VEIL_LOG_LEVEL="WARNING")
    return env


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def _make_users(env: dict, n: int) -> None:
    code = (
        "from reviewer.models import User; User.objects.filter(username__startswith='stampede').delete(); "
        f"[User.objects.create_user(username=f'stampede{{i}}', password={PASSWORD!r}) for i in range({n})]"
    )
    _manage(env, "shell", "-c", code)


def _login(base: str, username: str) -> float:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/", timeout=300).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    started = time.perf_counter()
    response = opener.open(urllib.request.Request(f"{base}/accounts/login/", data=data.encode()), timeout=300)
    elapsed = time.perf_counter() - started
    if "sessionid" not in {c.name for c in jar} or "/accounts/login/" in response.geturl():
        raise RuntimeError(f"{username} was not logged in")
    return elapsed


def stampede(hasher: str, logins: int, port: int) -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        env = _env(data_dir, hasher)
        _manage(env, "migrate", "--noinput")
        _make_users(env, logins)
        server = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--timeout", "600"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            times: list[float] = []
            errors: list[str] = []
            barrier = threading.Barrier(logins)

            def one(i: int) -> None:
                barrier.wait()
                try:
                    times.append(_login(base, f"stampede{i}"))
                except Exception as exc:  # reported, not raised: the figure counts what failed
                    errors.append(repr(exc))

            threads = [threading.Thread(target=one, args=(i,)) for i in range(logins)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    times.sort()
    return {
        "wall": wall,
        "p50": statistics.median(times) if times else float("nan"),
        "p95": times[int(len(times) * 0.95) - 1] if times else float("nan"),
        "max": times[-1] if times else float("nan"),
        "ok": len(times),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--port", type=int, default=18800)
    args = parser.parse_args()
    print(f"# .venv/bin/python bench/logins.py --logins {args.logins} --port {args.port}")
    print(f"# {args.logins} logins at once; gunicorn --workers 2 --threads 4; {os.cpu_count()} CPUs")
    for hasher in ("pbkdf2", "argon2"):
        r = stampede(hasher, args.logins, args.port)
        label = "PBKDF2 (baseline)" if hasher == "pbkdf2" else "Argon2id"
        print(
            f"{label:18s} all done in {r['wall']:.1f} s; per login p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, "
            f"max {r['max']:.2f} s; {r['ok']} ok, {len(r['errors'])} failed"
        )
        for error in r["errors"][:3]:
            print("   ", error)


if __name__ == "__main__":
    main()
