import pytest

from reviewer.imaging.names import clean_path, describe, export_key, is_reserved, unreserved, with_counter


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a/b.jpg", "a/b.jpg"),
        ("ab:cd.jpg", "ab_cd.jpg"),
        ('what?<"x">|*.jpg', "what___x____.jpg"),
        ("line\nbreak.jpg", "linebreak.jpg"),
        ("tab\there\r.jpg", "tabhere.jpg"),
        ("名前_\u202egpj.exe", "名前_gpj.exe"),  # shown as "名前_exe.jpg" before: the override is gone
        ("zero\u200bwidth\u2066.jpg", "zerowidth.jpg"),
        ("\x1b[31mred.jpg", "[31mred.jpg"),
        ("trailing. /x.jpg", "trailing/x.jpg"),
        ("CON.jpg", "_CON.jpg"),
        ("e\u0301.jpg", "\u00e9.jpg"),  # NFC: one way to write each name
    ],
)
def test_names_lose_control_and_bidi_characters_and_windows_reserved_ones(raw, clean):
    assert clean_path(raw).path == clean


@pytest.mark.parametrize(
    ("raw", "reason", "message"),
    [
        ("nul\x00.jpg", "unsafe_path", "the file name contains a NUL character"),
        ("../up.jpg", "unsafe_path", "absolute path or '..' in the file name"),
        ("/etc/x.jpg", "unsafe_path", "absolute path or '..' in the file name"),
        ("\u202e\n", "unsafe_path", "the file name is empty once control characters are removed"),
        ("d/" * 2001 + "x.jpg", "name_too_long", "the path is 4,007 characters; at most 1,024"),
        ("a" * 300 + ".jpg", "name_too_long", "a part of the path is 304 bytes; at most 255"),
    ],
)
def test_unsafe_or_over_long_names_are_refused_with_a_reason(raw, reason, message):
    result = clean_path(raw)
    assert result.path is None
    assert result.refusal == (reason, message)


def test_described_names_show_hidden_characters_and_stay_short():
    assert describe("a\nb\u202ec\x00.jpg") == "a\\u000ab\\u202ec\\u0000.jpg"
    assert len(describe("x" * 5000, limit=1024)) == 1024


def test_export_names_keep_clear_of_the_archive_files_and_of_each_other():
    assert is_reserved("manifest.json")
    assert is_reserved("Annotations/coco.json")
    assert not is_reserved("photos/manifest.json")
    assert unreserved("annotations/coco.json") == "_annotations/coco.json"
    assert with_counter("a/same.gif", 2) == "a/same~2.gif"
    assert with_counter("noext", 3) == "noext~3"
    assert export_key("A/Same.PNG") == export_key("a/same.png")
