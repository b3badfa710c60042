"""Archives appear under their final name only when complete; the manifest's hashes can be checked."""

import json
import tarfile
import zipfile

import pytest

from reviewer.imaging.archive import (
    ArchiveWriter,
    UnsafeMemberName,
    partial_paths,
    read_member,
    safe_member_name,
    sha256_bytes,
    verify_manifest,
)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_complete_archive_is_renamed_into_place(tmp_path, kind):
    final = tmp_path / f"out.{kind}"
    with ArchiveWriter(final, kind) as writer:
        writer.add("photos/a.jpg", b"jpeg bytes")
        assert not final.exists()  # still under its temporary name while being written
        assert len(partial_paths(final)) == 1
        listed = {"output_path": "photos/a.jpg", "output_sha256": sha256_bytes(b"jpeg bytes")}
        writer.add_json("manifest.json", {"images": [listed]})
    assert final.exists()
    assert partial_paths(final) == []
    assert read_member(final, "photos/a.jpg") == b"jpeg bytes"
    assert verify_manifest(final) == []
    opener = zipfile.ZipFile if kind == "zip" else tarfile.open
    with opener(final) as archive:
        names = archive.namelist() if kind == "zip" else archive.getnames()
    assert names == ["photos/a.jpg", "manifest.json"]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_an_exception_midway_leaves_nothing_under_either_name(tmp_path, kind):
    final = tmp_path / f"out.{kind}"

    def write_then_fail():
        with ArchiveWriter(final, kind) as writer:
            writer.add("photos/a.jpg", b"x" * 1000)
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_then_fail()
    assert not final.exists()
    assert partial_paths(final) == []


def test_a_new_archive_never_replaces_the_final_name_until_it_is_complete(tmp_path):
    final = tmp_path / "out.zip"
    with ArchiveWriter(final) as writer:
        writer.add("old.txt", b"old")
    writer = ArchiveWriter(final)
    writer.add("new.txt", b"new")
    assert read_member(final, "old.txt") == b"old"  # the previous, complete archive is still there
    writer.close()
    assert read_member(final, "new.txt") == b"new"


def test_verify_manifest_reports_tampered_and_missing_members(tmp_path):
    final = tmp_path / "out.zip"
    with ArchiveWriter(final) as writer:
        writer.add("a.jpg", b"real")
        writer.add(
            "manifest.json",
            json.dumps({"images": [
                {"output_path": "a.jpg", "output_sha256": sha256_bytes(b"other")},
                {"output_path": "gone.jpg", "output_sha256": "0" * 64},
            ]}).encode(),
        )  # fmt: skip
    problems = verify_manifest(final)
    assert any(p.startswith("a.jpg: sha256") for p in problems)
    assert "gone.jpg: listed in the manifest but not in the archive" in problems


@pytest.mark.parametrize("name", ["../evil.jpg", "/etc/passwd", "a/../../b", "C:/x.jpg", "", "a\x00b"])
def test_unsafe_member_names_are_refused(tmp_path, name):
    with pytest.raises(UnsafeMemberName):
        safe_member_name(name)
    writer = ArchiveWriter(tmp_path / "x.zip")
    with pytest.raises(UnsafeMemberName):
        writer.add(name, b"")
    writer.abort()


def test_backslashes_and_dots_are_normalised_and_duplicates_refused(tmp_path):
    assert safe_member_name("a\\b\\c.jpg") == "a/b/c.jpg"
    assert safe_member_name("./a/./b.jpg") == "a/b.jpg"
    writer = ArchiveWriter(tmp_path / "x.zip")
    writer.add("a/b.jpg", b"1")
    with pytest.raises(ValueError, match=r"two members named 'a/b\.jpg'"):
        writer.add("a/./b.jpg", b"2")
    writer.abort()
    assert not (tmp_path / "x.zip").exists()
