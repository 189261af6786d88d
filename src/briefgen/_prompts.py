"""Finding and rendering the prompt templates (`prompts/*.j2`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from briefgen._errors import InputError

TEMPLATES = (
    "extract_system.j2",
    "extract_user.j2",
    "corpus_system.j2",
    "corpus_user.j2",
    "merge_system.j2",
    "merge_user.j2",
)


def default_dir() -> Path:
    """The shipped templates: inside the installed package, or the checkout's `prompts/`."""
    packaged = Path(str(resources.files("briefgen"))) / "prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "prompts"


class Prompts:
    """The templates, from `directory` or the shipped defaults."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()
        if not self.directory.is_dir():
            raise InputError(f"prompt folder {self.directory} does not exist.")
        missing = [name for name in TEMPLATES if not (self.directory / name).is_file()]
        if missing:
            raise InputError(
                f"prompt folder {self.directory} lacks {', '.join(missing)}; "
                "copy them from the shipped prompts/ folder."
            )
        # Sandboxed and strict: templates are user-editable, and the values rendered into
        # them (article text) are never themselves parsed as templates.
        self._env = SandboxedEnvironment(
            undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
        )
        self._compiled: dict[str, Template] = {}

    def render(self, name: str, **values: Any) -> str:
        path = self.directory / name
        try:
            template = self._compiled.get(name)
            if template is None:  # compiled once per run, not once per call
                template = self._env.from_string(path.read_text(encoding="utf-8"))
                self._compiled[name] = template
            return template.render(**values).strip()
        except TemplateError as err:
            raise InputError(f"prompt template {path} failed to render: {err}") from err
