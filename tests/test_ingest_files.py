"""Ingest: which files are articles, which are skipped with a warning, which are errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefgen._cli import app
from briefgen._errors import InputError
from briefgen._ingest import find_files, load
from conftest import SEED_CASSETTE, SEEDS

TEXT = "Rescue teams reached 1,200 people on Tuesday, officials said."
OTHER = "The mayor said more rain was expected on Wednesday."


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding one good article, `a.txt`."""
    path = tmp_path / "articles"
    path.mkdir()
    (path / "a.txt").write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def warnings() -> list[str]:
    """Collects what `load` passes to `warn`."""
    return []


def names(folder: Path, warnings: list[str]) -> list[str]:
    """The names of the articles read from `folder`, warnings collected."""
    return [a.name for a in load([folder], warn=warnings.append)]


def test_hidden_files_in_a_folder_are_skipped_silently(folder: Path, warnings: list[str]) -> None:
    (folder / ".draft.txt").write_text(OTHER, encoding="utf-8")
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == []


@pytest.mark.parametrize("name", [".hidden", ".git", ".hg", ".svn", "CVS", "_darcs", ".bzr"])
def test_hidden_and_vcs_folders_are_never_entered(
    folder: Path, warnings: list[str], tmp_path: Path, name: str
) -> None:
    inner = folder / name
    inner.mkdir()
    (inner / "old.txt").write_text(OTHER, encoding="utf-8")
    # A link out of the folder warns wherever it is found: its silence proves no descent.
    (tmp_path / "outside.txt").write_text(OTHER, encoding="utf-8")
    (inner / "out.txt").symlink_to(tmp_path / "outside.txt")
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == []


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt~",
        ".#notes.txt",
        "#notes.txt#",
        "notes.txt.bak",
        "notes.md.swp",
        "notes.md.swo",
        "notes.txt.tmp",
        "notes.txt.orig",
        "notes.txt.part",
        "notes.txt.crdownload",
        "NOTES.TXT.BAK",
    ],
)
def test_editor_backups_and_temp_files_are_skipped_silently(
    folder: Path, warnings: list[str], name: str
) -> None:
    (folder / name).write_text(OTHER, encoding="utf-8")
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == []


def test_a_hidden_file_named_explicitly_is_read(folder: Path) -> None:
    (folder / ".draft.txt").write_text(OTHER, encoding="utf-8")
    assert [a.name for a in load([folder / ".draft.txt"])] == [".draft.txt"]


def test_a_link_to_a_file_inside_the_folder_is_read_under_the_link_name(
    folder: Path, warnings: list[str]
) -> None:
    (folder / "raw").mkdir()
    (folder / "raw" / "b.text").write_text(OTHER, encoding="utf-8")
    (folder / "b.txt").symlink_to(folder / "raw" / "b.text")
    assert names(folder, warnings) == ["a.txt", "b.txt"]
    assert warnings == []


def test_a_link_into_another_given_folder_is_read(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.text").write_text(OTHER, encoding="utf-8")
    (folder / "b.txt").symlink_to(other / "b.text")
    assert [a.name for a in load([folder, other])] == ["a.txt", "b.txt"]


def test_a_link_to_a_file_outside_the_given_folders_is_skipped_with_a_warning(
    folder: Path, warnings: list[str], tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text(OTHER, encoding="utf-8")
    link = folder / "b.txt"
    link.symlink_to(tmp_path / "secret.txt")
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == [f"{link} links outside the given folders; skipped"]


def test_a_linked_folder_outside_the_given_folders_is_skipped_with_a_warning(
    folder: Path, warnings: list[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.txt").write_text(OTHER, encoding="utf-8")
    link = folder / "more"
    link.symlink_to(elsewhere, target_is_directory=True)
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == [f"{link} links outside the given folders; skipped"]


def test_a_link_back_up_the_tree_is_walked_once(folder: Path, warnings: list[str]) -> None:
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text(OTHER, encoding="utf-8")
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    assert names(folder, warnings) == ["a.txt", "b.txt"]
    assert warnings == []


def test_a_broken_or_looping_link_is_skipped_with_a_warning(
    folder: Path, warnings: list[str]
) -> None:
    (folder / "gone.txt").symlink_to(folder / "missing.txt")
    (folder / "x.txt").symlink_to(folder / "y.txt")
    (folder / "y.txt").symlink_to(folder / "x.txt")
    assert names(folder, warnings) == ["a.txt"]
    assert sorted(warnings) == [
        f"{folder / name} is a broken link; skipped" for name in ("gone.txt", "x.txt", "y.txt")
    ]


def test_an_excluded_file_in_a_folder_is_never_read(folder: Path, warnings: list[str]) -> None:
    (folder / "brief.md").write_text("# Brief\n\nLast run's brief.", encoding="utf-8")
    (folder / "sub").mkdir()
    # Spelled differently from the folder walk's path: the comparison is by resolved path.
    spelled = folder / "sub" / ".." / "brief.md"
    articles = load([folder], exclude=[spelled], warn=warnings.append)
    assert [a.name for a in articles] == ["a.txt"]
    assert warnings == []


def test_an_excluded_file_is_not_read_even_when_named(folder: Path) -> None:
    (folder / "brief.md").write_text("# Brief\n\nLast run's brief.", encoding="utf-8")
    brief = folder / "brief.md"
    articles = load([folder / "a.txt", brief], exclude=[brief])
    assert [a.name for a in articles] == ["a.txt"]


PROBLEMS = [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b" \n\t\r\n  \n", "is empty", id="whitespace"),
    pytest.param(b"\xef\xbb\xbf\n", "is empty", id="bom-only"),
    pytest.param("Caf\xe9 au lait.".encode("latin-1"), "is not UTF-8 text", id="latin-1"),
    pytest.param(b"\x00\x01\x02PK\x03\x04 text", "looks binary", id="binary"),
    pytest.param(b"\x00" * 64, "looks binary", id="all-nul"),
    pytest.param(b"Short Url\n\n", "has no article text left after cleaning", id="no-text"),
]


@pytest.mark.parametrize(("content", "reason"), PROBLEMS)
def test_a_file_found_in_a_folder_that_is_not_text_is_skipped_with_a_warning(
    folder: Path, warnings: list[str], content: bytes, reason: str
) -> None:
    (folder / "x.txt").write_bytes(content)
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == [f"{folder / 'x.txt'} {reason}; skipped"]


@pytest.mark.parametrize(("content", "reason"), PROBLEMS)
def test_a_named_file_that_is_not_text_is_an_input_error(
    folder: Path, content: bytes, reason: str
) -> None:
    (folder / "x.txt").write_bytes(content)
    with pytest.raises(
        InputError, match="^" + re.escape(f"{folder / 'x.txt'} {reason}; ")
    ) as caught:
        load([folder / "a.txt", folder / "x.txt"])
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_a_few_nul_bytes_are_removed_not_taken_for_binary(folder: Path) -> None:
    (folder / "a.txt").write_bytes(TEXT.replace(" ", " \x00", 3).encode())
    assert load([folder])[0].sentences == (TEXT,)


def test_a_utf8_byte_order_mark_is_removed(folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert load([folder])[0].sentences == (TEXT,)


def test_a_byte_order_mark_does_not_hide_a_duplicate(folder: Path, warnings: list[str]) -> None:
    (folder / "b.txt").write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert names(folder, warnings) == ["a.txt"]


def test_the_same_text_under_two_names_is_read_once_keeping_the_first(
    folder: Path, warnings: list[str]
) -> None:
    (folder / "b.txt").write_text(f"\n  {TEXT}  \n", encoding="utf-8")
    assert names(folder, warnings) == ["a.txt"]
    assert warnings == [f"{folder / 'b.txt'} has the same text as {folder / 'a.txt'}; read once"]


def test_a_skipped_duplicate_does_not_clash_on_article_id(
    folder: Path, warnings: list[str]
) -> None:
    (folder / "001_a.txt").write_text(OTHER, encoding="utf-8")
    (folder / "001_b.txt").write_text(OTHER, encoding="utf-8")
    assert names(folder, warnings) == ["001_a.txt", "a.txt"]
    assert warnings == [
        f"{folder / '001_b.txt'} has the same text as {folder / '001_a.txt'}; read once"
    ]


def test_a_skipped_unreadable_file_does_not_clash_on_article_id(
    folder: Path, warnings: list[str]
) -> None:
    (folder / "001_a.txt").write_text(OTHER, encoding="utf-8")
    (folder / "001_b.txt").write_bytes(b"")
    assert names(folder, warnings) == ["001_a.txt", "a.txt"]


def test_two_read_files_with_one_id_are_still_an_error(folder: Path) -> None:
    (folder / "001_a.txt").write_text(OTHER, encoding="utf-8")
    (folder / "001_b.txt").write_text("A third, different article.", encoding="utf-8")
    with pytest.raises(InputError, match="both give article id '001'"):
        load([folder])


def test_a_folder_with_no_readable_article_is_one_input_error(
    tmp_path: Path, warnings: list[str]
) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="^no readable articles in ") as caught:
        load([tmp_path], warn=warnings.append)
    assert "\n" not in str(caught.value)
    assert len(warnings) == 2


def test_a_folder_with_only_skipped_names_is_the_nothing_found_error(tmp_path: Path) -> None:
    (tmp_path / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "notes.txt~").write_text(TEXT, encoding="utf-8")
    with pytest.raises(InputError, match="no .txt, .md or .html articles found"):
        find_files([tmp_path])


def test_without_warn_junk_is_skipped_quietly(folder: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "b.txt").write_text(TEXT, encoding="utf-8")
    assert [a.name for a in load([folder])] == ["a.txt"]


def test_junk_in_the_folder_changes_nothing_in_the_brief(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    folder.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    for seed in seeds:
        shutil.copy(seed, folder)
    args = ["summarize", str(folder), "--replay", str(SEED_CASSETTE)]
    clean = CliRunner().invoke(app, args)
    assert clean.exit_code == 0, clean.stderr

    add_junk(folder, seeds[0], tmp_path)
    junked = CliRunner().invoke(app, args)
    assert junked.exit_code == 0, junked.stderr
    assert junked.stdout_bytes == clean.stdout_bytes


def add_junk(folder: Path, seed: Path, tmp_path: Path) -> None:
    """Everything a real articles folder collects besides articles."""
    (folder / ".DS_Store.txt").write_text(OTHER, encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "COMMIT_EDITMSG.txt").write_text(OTHER, encoding="utf-8")
    (folder / "notes.txt~").write_text(OTHER, encoding="utf-8")
    (folder / ".#draft.txt").write_text(OTHER, encoding="utf-8")
    (folder / "zz_empty.txt").write_bytes(b"")
    (folder / "zz_blank.md").write_text(" \n\n\t\n", encoding="utf-8")
    (folder / "zz_bin.txt").write_bytes(b"\x00\x01\x02\x03" * 64 + b"text")
    shutil.copy(seed, folder / "zz_copy.txt")
    (tmp_path / "outside.txt").write_text(OTHER, encoding="utf-8")
    (folder / "zz_link.txt").symlink_to(tmp_path / "outside.txt")
