"""Ingest: finding files, removing page furniture, numbering sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefgen._errors import InputError
from briefgen._ingest import article_id, clean_lines, find_files, load, split_sentences
from conftest import SEEDS


def test_seed_furniture_is_removed_before_the_model_sees_it() -> None:
    text = "\n".join(s for a in load([SEEDS]) for s in a.sentences)
    for junk in (
        "{{",
        "premium article",
        "reached your limit",
        "WhatsApp Channel",
        "Short Url",
        "File Photos",
        "OPINION |",
        "EDITORIAL |",
        "(AFP/File)",
        "Home Neighbours",
    ):
        assert junk not in text


def test_seed_article_text_is_kept() -> None:
    articles = {a.id: a for a in load([SEEDS])}
    assert articles["001"].sentence(1).startswith("ISLAMABAD: Pakistan’s State Minister")
    assert "907,351" in articles["001"].sentence(7)
    assert articles["004"].sentence(1) == (
        "Taliban Urges Pakistan Not To Unilaterally Repatriate Afghan Migrants"
    )


def test_cleaning_rules_generalise_beyond_the_seed_lines() -> None:
    raw = "\n".join(
        [
            "Home World Europe Floods Hit Valencia Again",
            "Floods Hit Valencia Again",
            "SPORTS | Valencia wins the cup",
            "Follow us on Telegram",
            "Photo: Reuters",
            "Rescue teams reached 1,200 people on Tuesday, officials said.",
            "Subscribe now to continue reading this story.",
            "Map of the area",
            "Map of the area",
            "You have {{user.count}} articles left",
            "The mayor said more rain was expected.",
        ]
    )
    assert clean_lines(raw) == [
        "Floods Hit Valencia Again",
        "Rescue teams reached 1,200 people on Tuesday, officials said.",
        "The mayor said more rain was expected.",
    ]


def test_a_long_sentence_that_mentions_a_platform_is_news_not_a_widget() -> None:
    line = "The ministry said on Twitter that 400 families had been moved to shelters."
    assert clean_lines(line) == [line]


def test_sentences_split_but_abbreviations_and_initials_do_not() -> None:
    line = (
        "The deadline is Mar. 31 for holders. H.E. Nooruddin Azizi met Mr. Khan in the U.S. "
        "on Friday. “We will return,” he said. Talks resume in May."
    )
    assert split_sentences([line]) == [
        "The deadline is Mar. 31 for holders.",
        "H.E. Nooruddin Azizi met Mr. Khan in the U.S. on Friday.",
        "“We will return,” he said.",
        "Talks resume in May.",
    ]


def test_numbered_text_uses_one_based_sentence_ids() -> None:
    article = load([SEEDS])[1]
    lines = article.numbered().splitlines()
    assert lines[0].startswith("[S1] ISLAMABAD")
    assert lines[6].startswith("[S7] “Pakistan has sent back 907,351")
    with pytest.raises(IndexError):
        article.sentence(0)


def test_article_ids_come_from_file_names() -> None:
    assert article_id(Path("001_251bd8e93c77d919.txt")) == "001"
    assert article_id(Path("Reuters Story (2).md")) == "reuters-story-2"


def test_files_are_read_in_a_stable_order_and_hashed_by_content(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("Second article text here.", encoding="utf-8")
    (tmp_path / "a.md").write_text("First article text here.", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    first = load([tmp_path])
    assert [a.name for a in first] == ["a.md", "b.txt"]
    assert [a.sha256 for a in first] == [a.sha256 for a in load([tmp_path])]
    (tmp_path / "a.md").write_text("First article text, changed.", encoding="utf-8")
    assert load([tmp_path])[0].sha256 != first[0].sha256


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "x.pdf").write_bytes(b"%PDF") and p / "x.pdf", "not a .txt, .md or .html"),
        (lambda p: p, "no .txt, .md or .html articles"),
    ],
)
def test_unusable_paths_are_one_line_input_errors(tmp_path: Path, setup, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        find_files([setup(tmp_path)])


def test_non_utf8_and_empty_articles_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load([tmp_path / "latin.txt"])
    (tmp_path / "empty.txt").write_text("Short Url\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no article text"):
        load([tmp_path / "empty.txt"])


def test_two_files_with_one_id_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "001_a.txt").write_text("One article.", encoding="utf-8")
    (tmp_path / "001_b.txt").write_text("Another article.", encoding="utf-8")
    with pytest.raises(InputError, match="both give article id '001'"):
        load([tmp_path])
