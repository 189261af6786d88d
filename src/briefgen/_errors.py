"""Errors briefgen raises on purpose, each with a message that says what to do.

BriefgenError                 anything the CLI prints as one line
├── InputError                 a path, file or option the user gave is unusable   (exit 2)
│   └── BudgetError            --context-budget cannot hold even one brief         (exit 2)
├── ConfigError                no way to reach a model: no key, no base URL       (exit 2)
├── ReplayMissError            --replay lacks a request this run makes            (exit 1)
├── ModelError                 the endpoint cannot be used at all, or no article  (exit 1)
│                              could be read
├── PartialError               the brief was written, but some articles failed    (exit 1)
└── StrictError                --strict and some item failed verification        (exit 1)
"""

from __future__ import annotations


class BriefgenError(Exception):
    """Base class: the CLI prints `ClassName: message` and exits with `exit_code`."""

    exit_code = 1


class InputError(BriefgenError):
    """A path, file or option the user gave cannot be used."""

    exit_code = 2


class BudgetError(InputError):
    """The context budget is too small to hold one brief, or to merge two."""


class ConfigError(BriefgenError):
    """briefgen has no way to reach a model."""

    exit_code = 2


class ReplayMissError(BriefgenError):
    """A replayed run asked for something the recording does not hold."""


class ModelError(BriefgenError):
    """The model endpoint failed, or its answer could not be used at all."""


class PartialError(BriefgenError):
    """The brief was written, but some articles (or corpus calls) could not be read."""


class StrictError(BriefgenError):
    """`--strict` was given and items were dropped."""
