"""Approval at scale: consolidating the queue, approving all in bulk vs one image_approve per image (baseline).

Run from the repository: VEIL_DATA_DIR=$(mktemp -d) .venv/bin/python bench/approve.py N
(a scratch data folder: it makes datasets and users). With DATABASE_URL it measures PostgreSQL.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from reviewer.models import Dataset, Image, Review, ReviewBox, User
from reviewer.selectors.workflow import approval_queue
from reviewer.services.approval import image_approve, images_approve

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"role": "admin"})
people = [User.objects.get_or_create(username=f"bench-r{i}")[0] for i in range(2)]


def make(name):
    Dataset.objects.filter(name=name).delete()
    ds = Dataset.objects.create(name=name, reviews_required=2)
    imgs = Image.objects.bulk_create(
        [
            Image(
                dataset=ds,
                file=f"x/{name}/{i}.jpg",
                relative_path=f"{i:06d}.jpg",
                sha256=f"{i:064d}",
                file_size=1,
                format="JPEG",
                width=640,
                height=480,
                status="reviewed",
            )
            for i in range(N)
        ]
    )
    revs = Review.objects.bulk_create([Review(image=im, reviewer=p, seconds_spent=3) for im in imgs for p in people])
    boxes = []
    for j, r in enumerate(revs):
        for f in range(3):  # three faces each, slightly jittered between reviewers
            d = (j % 2) * 2
            boxes.append(ReviewBox(review=r, fate="added", x0=10 + 100 * f + d, y0=10 + d, x1=60 + 100 * f, y1=70))
    ReviewBox.objects.bulk_create(boxes, batch_size=5000)
    return ds


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


ds = make("bench-queue")
q = [timed(lambda: approval_queue(ds)) for _ in range(3)]
bulk = timed(lambda: images_approve(dataset=ds, actor=admin))
assert Image.objects.filter(dataset=ds, status="approved").count() == N
ds2 = make("bench-loop")


def loop():
    for im in Image.objects.filter(dataset=ds2):
        image_approve(image=im, actor=admin)


one = timed(loop)
db = os.environ.get("DATABASE_URL", "sqlite")
print(f"images={N} reviews/image=2 faces/image=3 db={db.split('@')[-1]}")
queue = statistics.median(q)
print(f"approval_queue (consolidate all waiting), median of 3: {queue:.2f} s = {1000 * queue / N:.2f} ms/image")
print(f"images_approve all (bulk, one transaction): {bulk:.2f} s = {1000 * bulk / N:.2f} ms/image")
print(f"baseline: image_approve per image:            {one:.2f} s = {1000 * one / N:.2f} ms/image")
print(f"ratio baseline/bulk: {one / bulk:.1f}x")
print(
    "command: VEIL_DATA_DIR=$(mktemp -d) .venv/bin/python bench/approve.py",
    N,
)
