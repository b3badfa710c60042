"""The hostile-file corpus through the real door (uploads queued to storage, imported by the task's body).

Every hostile file gets its expected rejection reason, and the good file uploaded right after it is imported:
one bad file never stops the others. Odd but valid files are imported and their thumbnails render.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewer.imaging.names import describe
from reviewer.services.imports import import_queue, import_run
from reviewer.services.thumbnails import image_thumbnail_get
from tests.archives import make_zip
from tests.factories import DatasetFactory
from tests.hostile import BYTE_LIMIT, archive_cases, corpus
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

NESTED = {"nested.zip", "nested.tgz", "disguised.jpg"}


def test_every_hostile_file_is_refused_with_its_reason_and_the_files_after_it_are_imported(settings):
    settings.VEIL_MAX_IMAGE_BYTES = BYTE_LIMIT
    dataset = DatasetFactory()
    cases = corpus()
    loose = [c for c in cases if c.path not in NESTED]
    nested = [c for c in cases if c.path in NESTED]
    assert len(cases) + len(archive_cases()) >= 60

    files, paths, good = [], [], []
    for n, case in enumerate([*loose, *archive_cases()]):
        files.append(SimpleUploadedFile("upload.bin", case.data))
        paths.append(case.path)
        good.append(f"after/{n:03d}.jpg")
        files.append(SimpleUploadedFile("good.jpg", jpeg_bytes(16, 12, seed=1000 + n)))
        paths.append(good[-1])
    outer = {}
    for n, case in enumerate(nested):
        outer[f"in/{case.path}"] = case.data
        outer[f"in/ok-{n}.jpg"] = jpeg_bytes(16, 12, seed=2000 + n)
        good.append(f"in/ok-{n}.jpg")
    files.append(SimpleUploadedFile("outer.zip", make_zip(outer)))
    paths.append("outer.zip")

    job = import_run(import_id=import_queue(dataset=dataset, files=files, paths=paths).pk)

    assert job.status == "done", job.error
    rejected = dict(job.rejections.values_list("name", "reason"))
    kept = dict(dataset.images.values_list("relative_path", "original_name"))
    expected_rejections = {}
    for case in [*cases, *archive_cases()]:
        if case.expected.startswith("imported:"):
            path = case.expected.removeprefix("imported:")
            assert path in kept, f"{case.path!r} was not imported as {path!r}"
            assert kept[path] == ("" if path == case.path else describe(case.path, limit=8192))
        elif case.expected != "duplicate":
            expected_rejections[case.rejected_as or case.path] = case.expected
    assert rejected == expected_rejections
    assert [p for p in good if p not in kept] == []  # every file after a hostile one was imported
    assert job.duplicate_count == 1
    assert job.files_seen == len(rejected) + len(kept) + job.duplicate_count
    export_keys = list(dataset.images.values_list("export_key", flat=True))
    assert len(export_keys) == len(set(export_keys))  # no two images on one path in an export
    for image in dataset.images.all():  # the page can show every image that was let in
        _name, content_type = image_thumbnail_get(image=image)
        assert content_type == "image/jpeg"
