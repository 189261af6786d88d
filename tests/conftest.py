"""Shared fixtures: no test touches the network, the real home, or a real key."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from briefgen._replay import make_vcr
from briefgen._replay import vcr_config as briefgen_vcr_config

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SEEDS = ROOT / "seeds"
CASSETTES = TESTS / "cassettes"
SEED_CASSETTE = CASSETTES / "seeds.yaml"
SEED_SCRIPT = CASSETTES / "script" / "seeds"
DUMMY_KEY = "sk-test-dummy-0123456789abcdef"

sys.path.insert(0, str(TESTS))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A dummy key, no endpoint, model or Azure settings from the developer's shell, the
    tools mode, state in a temp dir."""
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("BRIEFGEN_MODEL", raising=False)
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    # The scripted endpoint's faults are tool-call faults, recorded in tools mode; the tests
    # of the other modes (test_modes.py) set their own.
    monkeypatch.setenv("BRIEFGEN_MODE", "tools")
    monkeypatch.setenv("BRIEFGEN_DIR", str(tmp_path_factory.mktemp("briefgen-home")))


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    # No record_mode here: it would silently override --record-mode.
    return briefgen_vcr_config()


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("fingerprint", make_vcr().matchers["fingerprint"])


@pytest.fixture(scope="session")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def seed_script() -> dict[str, list[Any]]:
    """The hand-written answers the seed cassette was recorded from."""
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))["answers"]
        for p in sorted(SEED_SCRIPT.glob("*.json"))
    }


@pytest.fixture
def write_article(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write an article file into a fresh folder and return the folder."""
    folder = tmp_path / "articles"
    folder.mkdir()

    def write(name: str, text: str) -> Path:
        (folder / name).write_text(text, encoding="utf-8")
        return folder

    return write
