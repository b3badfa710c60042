import io

import pytest

from reviewer.imaging.sources import iter_archive, iter_folder, safe_relative_path
from tests.archives import make_tar, make_zip


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a/b.jpg", "a/b.jpg"),
        ("./a//b.jpg", "a/b.jpg"),
        ("a\\b.jpg", "a/b.jpg"),
        ("../escape.jpg", None),
        ("a/../../escape.jpg", None),
        ("/etc/passwd", None),
        ("C:/Windows/x.jpg", None),
        ("C:\\x.jpg", None),
        ("", None),
        ("nul\x00.jpg", None),
    ],
)
def test_safe_relative_path(raw, clean):
    assert safe_relative_path(raw) == clean


def _summary(entries):
    return {e.name: (e.refusal[0] if e.refusal else e.read()) for e in entries}


def test_zip_entries_with_unsafe_names_or_links_are_refused_and_the_rest_read():
    data = make_zip(
        {"ok/a.jpg": b"A", "../up.jpg": b"U", "/abs.jpg": b"B", "__MACOSX/._a.jpg": b"junk", "dir/.DS_Store": b"x"},
        symlinks={"link.jpg": "/etc/passwd"},
    )
    got = _summary(iter_archive(io.BytesIO(data), "t.zip", max_bytes=100, max_members=100))
    assert got == {
        "ok/a.jpg": b"A",
        "../up.jpg": "unsafe_path",
        "/abs.jpg": "unsafe_path",
        "link.jpg": "link_or_device",
    }


def test_tar_links_and_devices_are_refused():
    data = make_tar(
        {"ok.jpg": b"A", "../../up.jpg": b"U"},
        symlinks={"sym.jpg": "/etc/passwd"},
        hardlinks={"hard.jpg": "ok.jpg"},
        devices=["dev/null.jpg"],
    )
    got = _summary(iter_archive(io.BytesIO(data), "t.tgz", max_bytes=100, max_members=100))
    assert got == {
        "ok.jpg": b"A",
        "../../up.jpg": "unsafe_path",
        "sym.jpg": "link_or_device",
        "hard.jpg": "link_or_device",
        "dev/null.jpg": "link_or_device",
    }


def test_reads_are_bounded_even_when_the_archive_lies_about_sizes():
    data = make_zip({"big.jpg": b"x" * 10_000})
    sizes = [len(entry.read()) for entry in iter_archive(io.BytesIO(data), "t.zip", max_bytes=100, max_members=10)]
    assert sizes == [101]  # one byte over the limit: enough for the caller to refuse it


def test_unreadable_archive_is_one_refusal():
    (entry,) = list(iter_archive(io.BytesIO(b"PK\x03\x04 not really a zip"), "bad.zip", max_bytes=10, max_members=10))
    assert entry.refusal[0] == "bad_archive"
    assert entry.name == "bad.zip"


def test_archive_with_too_many_members_is_refused_whole():
    data = make_zip({f"{i}.jpg": b"x" for i in range(5)})
    (entry,) = list(iter_archive(io.BytesIO(data), "many.zip", max_bytes=10, max_members=4))
    assert entry.refusal[0] == "bad_archive"
    assert "5 entries" in entry.refusal[1]


def test_folder_walk_is_recursive_sorted_and_refuses_symlinks(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.jpg").write_bytes(b"2")
    (tmp_path / "a.jpg").write_bytes(b"1")
    (tmp_path / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / "link.jpg").symlink_to("/etc/passwd")
    got = _summary(iter_folder(tmp_path, max_bytes=10))
    assert list(got) == ["a.jpg", "link.jpg", "b/2.jpg"]
    assert got == {"a.jpg": b"1", "link.jpg": "link_or_device", "b/2.jpg": b"2"}
