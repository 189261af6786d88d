"""How long checking the seed answers takes: five article briefs and the corpus brief.

    python bench/validation.py

Every replay, re-ask and cache hit runs these validators, so they must stay cheap. Prints
milliseconds per full validation of the hand-written seed answers (tests/cassettes/script).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from briefgen._ingest import load  # noqa: E402
from briefgen._schema import ArticleBrief, CorpusBrief  # noqa: E402
from briefgen._verify import ArticleResult, ItemIndex  # noqa: E402
from scripted import _clean, load_script  # noqa: E402

ROUNDS = 10


def main() -> None:
    articles = load([ROOT / "seeds"])
    script = {
        k: _clean(v[-1]) for k, v in load_script(ROOT / "tests/cassettes/script/seeds").items()
    }
    started = time.perf_counter()
    for _ in range(ROUNDS):
        results = [
            ArticleResult(a, ArticleBrief.model_validate(script[a.id], context={"article": a}))
            for a in articles
        ]
        index = ItemIndex(results)
        CorpusBrief.model_validate(script["corpus"], context={"check_corpus": index.check})
    per_round = (time.perf_counter() - started) / ROUNDS
    print(f"seed validation: {per_round * 1000:.0f} ms ({len(articles)} articles and the corpus)")
    print(json.dumps({"seed_validation_ms": round(per_round * 1000, 1)}))


if __name__ == "__main__":
    main()
