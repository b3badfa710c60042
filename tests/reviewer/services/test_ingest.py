import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewer.errors import ServiceError
from reviewer.imaging.loading import sha256_of
from reviewer.models import Image, ImportJob, ImportRejection
from reviewer.services.ingest import (
    dataset_get_or_create,
    image_ingest,
    import_finish,
    import_path,
    import_start,
    import_uploads,
)
from tests.archives import make_tar, make_zip
from tests.factories import DatasetFactory
from tests.images import (
    corrupt_jpeg_bytes,
    encode,
    jpeg_bytes,
    pixels,
    png_bad_crc_bytes,
    png_bomb_bytes,
    png_bytes,
    png_with_chunk_bomb,
    truncated_jpeg_bytes,
)

pytestmark = pytest.mark.django_db


def _rejections(job):
    return {r.name: r.reason for r in job.rejections.all()}


def test_zip_import_keeps_good_photos_and_lists_each_bad_file_with_its_reason(tmp_path, settings):
    dataset = DatasetFactory()
    archive = tmp_path / "upload.zip"
    archive.write_bytes(
        make_zip(
            {
                "people/a.jpg": jpeg_bytes(80, 60, seed=1),
                "people/b.png": png_bytes(30, 20, seed=2),
                "corrupt.jpg": corrupt_jpeg_bytes(),
                "truncated.jpg": truncated_jpeg_bytes(),
                "notes.jpg": b"this is a text file renamed .jpg",
                "../escape.jpg": jpeg_bytes(10, 10, seed=3),
                "nested.zip": make_zip({"x.jpg": jpeg_bytes(10, 10, seed=4)}),
                "again/a-copy.jpg": jpeg_bytes(80, 60, seed=1),
            }
        )
    )

    job = import_path(dataset=dataset, path=archive)

    assert (job.imported_count, job.duplicate_count, job.rejected_count) == (2, 1, 5)
    assert job.duplicate_names == [{"name": "again/a-copy.jpg", "same_as": "people/a.jpg"}]
    assert job.status == ImportJob.Status.DONE
    assert _rejections(job) == {
        "corrupt.jpg": "corrupt",
        "truncated.jpg": "corrupt",
        "notes.jpg": "not_an_image",
        "../escape.jpg": "unsafe_path",
        "nested.zip": "nested_archive",
    }
    images = {i.relative_path: i for i in dataset.images.all()}
    assert set(images) == {"people/a.jpg", "people/b.png"}
    assert (images["people/a.jpg"].width, images["people/a.jpg"].height, images["people/a.jpg"].format) == (
        80,
        60,
        "JPEG",
    )
    assert images["people/b.png"].file.read() == png_bytes(30, 20, seed=2)
    # Nothing was written outside the media folder (the archive's own folder stays as it was).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media", "upload.zip"]
    assert not (Path(settings.MEDIA_ROOT).parent / "escape.jpg").exists()


def test_tar_gz_import_of_a_folder_tree(tmp_path):
    dataset = DatasetFactory()
    archive = tmp_path / "set.tar.gz"
    archive.write_bytes(
        make_tar({"a/1.jpg": jpeg_bytes(seed=1), "a/b/2.jpg": jpeg_bytes(seed=2)}, symlinks={"s.jpg": "x"})
    )
    job = import_path(dataset=dataset, path=archive)
    assert sorted(dataset.images.values_list("relative_path", flat=True)) == ["a/1.jpg", "a/b/2.jpg"]
    assert _rejections(job) == {"s.jpg": "link_or_device"}


def test_folder_import_is_recursive_and_a_second_import_only_counts_duplicates(tmp_path):
    dataset = DatasetFactory()
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "one.jpg").write_bytes(jpeg_bytes(seed=1))
    (tmp_path / "src" / "sub" / "two.jpg").write_bytes(jpeg_bytes(seed=2))

    first = import_path(dataset=dataset, path=tmp_path / "src")
    second = import_path(dataset=dataset, path=tmp_path / "src")

    assert (first.imported_count, first.duplicate_count) == (2, 0)
    assert (second.imported_count, second.duplicate_count, second.rejected_count) == (0, 2, 0)
    assert dataset.images.count() == 2


def test_same_bytes_in_two_datasets_are_two_images():
    one, two = DatasetFactory(), DatasetFactory()
    data = jpeg_bytes(seed=9)
    for dataset in (one, two):
        outcome = image_ingest(
            import_job=import_start(dataset=dataset, source="api", label="x"), name="x.jpg", data=data
        )
        assert outcome.result == "imported"
    assert Image.objects.filter(sha256=one.images.get().sha256).count() == 2


def test_a_path_reused_by_different_bytes_is_refused_not_overwritten():
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source="api", label="x")
    image_ingest(import_job=job, name="p.jpg", data=jpeg_bytes(seed=1))
    outcome = image_ingest(import_job=job, name="p.jpg", data=jpeg_bytes(seed=2))
    assert (outcome.result, outcome.reason) == ("rejected", "path_conflict")
    assert dataset.images.get().sha256 == sha256_of(io.BytesIO(jpeg_bytes(seed=1)))  # still the first file
    assert dataset.images.get().file.read() == jpeg_bytes(seed=1)


def test_images_over_the_pixel_or_byte_limit_are_refused(settings):
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source="api", label="x")
    bomb = image_ingest(import_job=job, name="bomb.png", data=png_bomb_bytes())
    settings.VEIL_MAX_IMAGE_BYTES = 100
    big = image_ingest(import_job=job, name="big.jpg", data=jpeg_bytes(64, 48))
    assert (bomb.reason, big.reason) == ("too_large", "too_large")
    assert "pixels, above the limit" in bomb.message
    assert dataset.images.count() == 0


def test_exif_rotated_photo_is_stored_with_its_displayed_size():
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source="api", label="x")
    outcome = image_ingest(import_job=job, name="r.jpg", data=jpeg_bytes(60, 40, orientation=6))
    image = Image.objects.get(pk=outcome.image_id)
    assert (image.width, image.height, image.orientation) == (40, 60, 6)


def test_an_interrupted_import_leaves_no_row_and_no_file_for_the_file_in_flight(tmp_path, settings, monkeypatch):
    dataset = DatasetFactory()
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(seed=i))

    from reviewer.services import ingest

    real_save = Image.save
    calls = {"n": 0}

    def dying_save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second image's row: the process "dies" after its file was stored
            raise KeyboardInterrupt
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ingest.import_path(dataset=dataset, path=folder)
    monkeypatch.setattr(Image, "save", real_save)

    assert list(dataset.images.values_list("relative_path", flat=True)) == ["0.jpg"]
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "interrupted" in job.error
    stored = sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*.jpg"))
    # The transaction rolled back the row; the file of the second image was stored whole (one rename) and is
    # reused when the import is run again, so nothing is duplicated and nothing is half-written.
    rerun = ingest.import_path(dataset=dataset, path=folder)
    assert (rerun.imported_count, rerun.duplicate_count) == (2, 1)
    assert dataset.images.count() == 3
    assert len(stored) <= 2
    assert sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*.jpg")) == sorted(
        f"{i.sha256}.jpg" for i in dataset.images.all()
    )


def test_uploads_accept_loose_images_and_archives_and_refuse_unsafe_names():
    dataset = DatasetFactory()
    files = [
        SimpleUploadedFile("one.jpg", jpeg_bytes(seed=1)),
        SimpleUploadedFile("pack.zip", make_zip({"in/two.jpg": jpeg_bytes(seed=2), "../bad.jpg": jpeg_bytes(seed=3)})),
        SimpleUploadedFile("three.jpg", jpeg_bytes(seed=3)),
    ]
    job = import_uploads(dataset=dataset, files=files, paths=["", "", "../../three.jpg"])
    assert sorted(dataset.images.values_list("relative_path", flat=True)) == ["in/two.jpg", "one.jpg"]
    assert _rejections(job) == {"../bad.jpg": "unsafe_path", "../../three.jpg": "unsafe_path"}


def test_dataset_names_are_required():
    with pytest.raises(ServiceError, match="needs a name"):
        dataset_get_or_create(name="   ")


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ServiceError, match="does not exist"):
        import_path(dataset=DatasetFactory(), path=tmp_path / "nope")


def test_rejections_are_rows_with_messages(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    job = import_path(dataset=DatasetFactory(), path=tmp_path / "bad.jpg")
    rejection = ImportRejection.objects.get(import_job=job)
    assert (rejection.name, rejection.reason) == ("bad.jpg", "not_an_image")
    assert rejection.message == "not an image file (its content is not a known image format)"


def test_a_full_disk_lists_every_file_it_kept_out_and_leaves_no_partial_original(tmp_path, settings, monkeypatch):
    import errno

    from django.core.files.storage import FileSystemStorage

    dataset = DatasetFactory()
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(40, 30, seed=10 + i))
    real_save = FileSystemStorage._save
    written = []

    def fills_up(self, name, content):
        if len(written) >= 2:  # the disk is full after two originals: the third is half written, then ENOSPC
            Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
            Path(self.path(name)).write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(name)
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", fills_up)
    job = import_path(dataset=dataset, path=folder)

    assert (job.imported_count, job.rejected_count, job.files_seen) == (2, 3, 5)
    assert job.status == ImportJob.Status.DONE
    kept_out = ImportRejection.objects.filter(import_job=job).order_by("name")
    assert [r.name for r in kept_out] == ["2.jpg", "3.jpg", "4.jpg"]
    assert {r.reason for r in kept_out} == {"storage_full"}
    assert kept_out[0].message.startswith("not imported: the storage is full (no space left on device)")
    stored = sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    assert len(stored) == 2  # the two imported originals, and no half-written third
    assert sorted(i.relative_path for i in dataset.images.all()) == ["0.jpg", "1.jpg"]


def test_other_storage_errors_are_not_taken_for_a_full_disk(tmp_path, monkeypatch):
    import errno

    from django.core.files.storage import FileSystemStorage

    def denied(self, name, content):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(FileSystemStorage, "_save", denied)
    job = import_start(dataset=DatasetFactory(), source=ImportJob.Source.COMMAND, label="x")
    with pytest.raises(PermissionError):
        image_ingest(import_job=job, name="a.jpg", data=jpeg_bytes(20, 20, seed=1))
    assert not ImportRejection.objects.exists()


def test_names_are_made_safe_and_unique_for_export_and_the_given_name_is_kept(tmp_path):
    dataset = DatasetFactory()
    gif = encode(pixels(20, 20, seed=9), "GIF")
    files = {
        "ab:cd.jpg": jpeg_bytes(seed=1),
        "manifest.json": png_bytes(seed=2),
        "annotations/coco.json": png_bytes(seed=3),
        "same.png": png_bytes(seed=4),
        "same.gif": gif,
        "Same.PNG": png_bytes(seed=5),
        "名前_\u202egpj.exe": jpeg_bytes(seed=6),
        "line\nbreak.jpg": jpeg_bytes(seed=7),
    }
    archive = tmp_path / "names.zip"
    archive.write_bytes(make_zip(files))
    job = import_path(dataset=dataset, path=archive)
    assert (job.imported_count, job.rejected_count) == (8, 0)
    got = dict(dataset.images.values_list("original_name", "relative_path"))
    assert got.pop("") == "same.png"  # the one name that needed nothing
    assert got == {
        "ab:cd.jpg": "ab_cd.jpg",
        "manifest.json": "_manifest.json",
        "annotations/coco.json": "_annotations/coco.json",
        "same.gif": "same~2.gif",  # exported as same~2.png, beside same.png
        "Same.PNG": "Same~3.PNG",  # one file to macOS and Windows with same.png, and ~2 is taken by the GIF
        "名前_\\u202egpj.exe": "名前_gpj.exe",
        "line\\u000abreak.jpg": "linebreak.jpg",
    }
    keys = list(dataset.images.values_list("export_key", flat=True))
    assert len(keys) == len(set(keys))


def test_a_nul_or_an_over_long_path_is_refused_with_a_reason_and_the_rest_imported():
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source=ImportJob.Source.API, label="t")
    long_name = "deep/" * 800 + "x.jpg"
    assert len(long_name) == 4005
    image_ingest(import_job=job, name="nul\x00.jpg", data=jpeg_bytes(seed=1))
    image_ingest(import_job=job, name=long_name, data=jpeg_bytes(seed=2))
    image_ingest(import_job=job, name="fine.jpg", data=jpeg_bytes(seed=3))
    rows = list(job.rejections.values_list("name", "reason", "message"))
    assert rows[0] == ("nul\\u0000.jpg", "unsafe_path", "the file name contains a NUL character")
    assert rows[1][1:] == ("name_too_long", "the path is 4,005 characters; at most 1,024")
    assert len(rows[1][0]) == 1024
    assert list(dataset.images.values_list("relative_path", flat=True)) == ["fine.jpg"]
    job.refresh_from_db()
    assert (job.files_seen, job.rejected_count) == (3, 2)


def test_finish_counts_from_rows_and_never_writes_back_stale_counters():
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source=ImportJob.Source.PAGE, label="t")
    stale = ImportJob.objects.get(pk=job.pk)  # loaded before any file, as a request handler would hold it
    for seed in range(3):
        image_ingest(import_job=job, name=f"{seed}.jpg", data=jpeg_bytes(seed=seed))
    image_ingest(import_job=job, name="again.jpg", data=jpeg_bytes(seed=0))
    image_ingest(import_job=job, name="bad.jpg", data=b"nope")
    finished = import_finish(import_job=stale)
    assert (finished.files_seen, finished.imported_count, finished.duplicate_count, finished.rejected_count) == (
        5,
        3,
        1,
        1,
    )
    assert ImportJob.objects.get(pk=job.pk).files_seen == 5


def test_a_file_that_trips_a_decoder_is_rejected_and_the_next_files_are_imported(tmp_path):
    dataset = DatasetFactory()
    (tmp_path / "1-bomb.png").write_bytes(png_with_chunk_bomb(b"zTXt"))
    (tmp_path / "2-profile.png").write_bytes(png_with_chunk_bomb(b"iCCP"))
    (tmp_path / "3-crc.png").write_bytes(png_bad_crc_bytes())
    (tmp_path / "4-good.jpg").write_bytes(jpeg_bytes(seed=1))
    job = import_path(dataset=dataset, path=tmp_path)
    assert _rejections(job) == {"1-bomb.png": "too_large", "2-profile.png": "too_large", "3-crc.png": "corrupt"}
    assert list(dataset.images.values_list("relative_path", flat=True)) == ["4-good.jpg"]


def test_an_archive_of_more_members_than_a_lab_uploads_is_refused_before_any_is_read(tmp_path):
    """The default limit: a 10,001-member zip of junk is one refusal, not 10,001 files for a worker to read."""
    archive = tmp_path / "many.zip"
    archive.write_bytes(make_zip({f"{i}.jpg": b"x" for i in range(10_001)}))
    job = import_path(dataset=DatasetFactory(), path=archive)
    rejection = ImportRejection.objects.get(import_job=job)
    assert (rejection.name, rejection.reason) == ("many.zip", "bad_archive")
    assert rejection.message == "archive has 10,001 entries, above 10,000"
    assert job.imported_count == 0
