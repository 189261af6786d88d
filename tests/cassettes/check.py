"""Check hand-written scripted answers against briefgen's validators, offline, before recording.

    python tests/cassettes/check.py louisiana            # every answer of one recording
    python tests/cassettes/check.py louisiana 103        # one article's answers

For each article answer (the first ask and each re-ask answer in `answers`), prints the items
that would be dropped and why; for the corpus answer, the problems the corpus checks find.
An answer meant to be right should print nothing but its counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from record import RECORDINGS  # noqa: E402

from briefgen._ingest import load  # noqa: E402
from briefgen._schema import CorpusBrief  # noqa: E402
from briefgen._verify import ItemIndex, salvage_article  # noqa: E402
from scripted import _clean, load_script  # noqa: E402


def main(name: str, only: str | None = None) -> int:
    articles_dir, folders, _ = RECORDINGS[name]
    script = {k: _clean(v) for f in folders for k, v in load_script(HERE / "script" / f).items()}
    articles = {a.id: a for a in load([articles_dir])}
    results = []
    bad = 0
    for aid, article in articles.items():
        answers = script.get(aid)
        if answers is None:
            print(f"{aid}: no scripted answer")
            bad += 1
            continue
        for n, answer in enumerate(answers):
            result = salvage_article(answer, article)
            if only in (None, aid):
                shown = f"{result.verified()} verified, {len(result.dropped)} dropped"
                print(f"{aid} answer {n}: {shown}")
                for d in result.dropped:
                    print(f"    {d.where}: {d.reason}")
            bad += len(result.dropped) if n == len(answers) - 1 else 0
        results.append(result)
    if only is None and "corpus" in script:
        index = ItemIndex(results)
        corpus = CorpusBrief.model_validate(script["corpus"][-1])
        problems = index.check(corpus)
        print(f"corpus: {len(problems)} problems")
        for p in problems:
            print(f"    {p}")
        bad += len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
