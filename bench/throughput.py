"""How fast briefgen turns N articles into a brief against a model that takes L seconds.

    python bench/throughput.py [--articles N] [--concurrency C] [--latency L] [--seed S]

Starts a loopback OpenAI-compatible endpoint in a child process (`bench/_loopback.py`; its
CPU is not briefgen's) that answers every call after L seconds with a valid brief, writes N
synthetic news articles on one story (15–25 sentences each, named people and bodies,
figures, quotes; the same for the same seed), and runs the real pipeline over them through
the real openai client: once from an empty cache (timed: wall and briefgen's own CPU), once
again unchanged, and once with one article added. Prints what each run cost and, as its
last line, one JSON object:

- `wall_s`, `ideal_s` (ceil(N/C)·L for the article calls plus L per corpus level) and
  `efficiency` (ideal over wall) of the first run;
- `article_tokens_per_article` (the article's own numbered text) and
  `overhead_tokens_per_article` (an article call's prompt tokens, schema included, less
  the article's own), as the endpoint counts them;
- `cpu_ms_per_article`: briefgen's CPU during the first run, per article (openai and
  instructor are imported before it, and that import is printed apart);
- `corpus_token_share`: the corpus and merge calls' prompt tokens over all article tokens;
- `rerun_calls` and `add_one_calls`: the calls of the unchanged re-run and of the run with
  one article added.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

import _loopback as story  # noqa: E402
from _loopback import Endpoint, encoding, tokens  # noqa: E402

from briefgen._cache import Cache  # noqa: E402
from briefgen._ingest import Article, load  # noqa: E402
from briefgen._llm import Settings  # noqa: E402
from briefgen._pipeline import Pipeline, Run  # noqa: E402

# --- synthetic articles ----------------------------------------------------------------------

HEADLINES = (
    "Brenmouth divided over Orran flood barrier plan",
    "Flood wall plan splits Brenmouth ahead of council vote",
    "Brenmouth weighs the price of keeping the Orran out",
    "Residents and officials clash over Brenmouth river defences",
    "Council faces pressure on Orran barrier as costs are questioned",
    "Brenmouth flood barrier debate grows as vote nears",
)
LEADS = (
    "Brenmouth City Council is weighing a flood barrier along the River Orran after floods in "
    "{month} {year} left parts of the town under water.",
    "A plan to wall off the River Orran has divided Brenmouth since the floods of {month} "
    "{year}, and Brenmouth City Council must now decide whether to go ahead.",
    "Brenmouth City Council is under pressure to approve a barrier on the River Orran, more "
    "than a season after the floods of {month} {year} swept through the town centre.",
)
AUTHORITY = (
    "The Orran Valley Water Authority (OVWA), which manages the river, drew up the plan "
    "after the floods.",
    "The design was drawn up by the Orran Valley Water Authority (OVWA), the regional agency "
    "responsible for the river.",
)
INTROS = (
    "{name}, the {role}, has spoken repeatedly about the plan.",
    "{name}, the {role}, has been among the most prominent voices in the debate.",
    "Among those following the debate closely is {name}, the {role}.",
)
FIGURES = {
    "cost": "The barrier would cost {qv} pounds, according to the OVWA.",
    "homes": "In {month} {year}, {qv} homes were flooded when the Orran burst its banks.",
    "support": "A survey by the Brenmouth Residents Association found that {qv} percent of "
    "residents back the barrier, while many others said they were undecided.",
    "claims": "Insurers paid out {qv} pounds in flood claims after the floods, the Coastal "
    "Insurers Group said.",
    "length": "The planned wall would run for {qv} kilometres along both banks of the river.",
    "years": "Engineers say the barrier would take {qv} years to build once work begins.",
    "businesses": "The floods forced {qv} riverside businesses to close for weeks, and some "
    "never reopened.",
}
QUOTE_FORMS = ('"{quote}," {surname} said.', '"{quote}," said {surname}.')
FILLERS = (
    "Shopkeepers on the quay said trade had not fully recovered since the water receded.",
    "Engineers have proposed a mix of raised walls, earth banks and flood gates at the "
    "harbour mouth.",
    "Critics say the walls would cut the town off from its riverfront and its history.",
    "Supporters point to the cost of repairs that follows every flood.",
    "Public meetings on the proposal have drawn large and sometimes angry crowds.",
    "Several streets near the river are still lined with sandbags from the last storm.",
    "The council has asked the national government to share the cost of the scheme.",
    "Residents on the east bank said they had not been consulted about the route of the wall.",
    "Members of the Brenmouth Residents Association handed in a petition at the town hall.",
    "The OVWA said work could begin soon after the council gives its approval.",
    "A final design is due to be published before the council votes.",
    "Local schools were closed for days during the last flood, and some families were "
    "moved to temporary housing.",
    "Insurance premiums on riverside homes have risen sharply, according to local brokers.",
    "The plan also includes a new footpath along the top of the wall and a small park.",
    "Environmental groups have raised concerns about the effect of the wall on fish and "
    "birds along the estuary.",
    "The river has flooded the town centre repeatedly in recent decades.",
    "Some homeowners have installed their own flood doors and pumps rather than wait.",
    "Traders fear that years of construction would keep shoppers away from the centre.",
    "The Coastal Insurers Group has urged councils across the region to invest in defences.",
    "Opponents have proposed planting trees upstream to slow the water instead.",
    "Emergency crews rescued residents by boat during the worst of the flooding.",
    "Brenmouth City Council has promised a public consultation before any work starts.",
    "The OVWA has published maps showing which streets would be protected by the barrier.",
    "Local churches and sports clubs served as shelters while the water was high.",
)
CLOSINGS = (
    "Brenmouth City Council is expected to vote on the plan in {month} {year}.",
    "A decision is expected when the council meets in {month} {year}.",
)
MONTHS = story._MONTHS
TOKENS = (430, 820)


def _figure(rng: random.Random, key: str) -> str:
    """A number as the sentence writes it, with a hedge or without."""
    if key == "cost":
        value = f"{rng.randint(180, 960) / 10:.1f} million".replace(".0 ", " ")
    elif key == "claims":
        value = f"{rng.randint(15, 95) / 10:.1f} million".replace(".0 ", " ")
    elif key == "homes":
        value = f"{rng.randint(400, 1900):,}"
    elif key == "support":
        value = str(rng.randint(35, 72))
    elif key == "length":
        value = f"{rng.randint(18, 64) / 10:.1f}"
    elif key == "years":
        value = rng.choice(["two", "three", "four", "five"])
    else:
        value = str(rng.randint(40, 260))
    hedge = rng.choice([None, None, *story.HEDGES])
    if key in {"cost", "claims"} and hedge is None:
        hedge = "an estimated"
    return f"{hedge} {value}" if hedge else value


def article_text(seed: int, index: int) -> str:
    """One synthetic news article: a headline and paragraphs, the same for the same seed."""
    rng = random.Random(f"{seed}:{index}")
    year = rng.choice([2023, 2024])
    month = rng.choice(MONTHS)
    pros = [p for p in story.PEOPLE if p.side == "pro"]
    cons = [p for p in story.PEOPLE if p.side == "con"]
    people = [rng.choice(pros), rng.choice(cons)]
    people += rng.sample([p for p in story.PEOPLE if p not in people], rng.randint(1, 2))
    rng.shuffle(people)
    target = rng.randint(TOKENS[0] + 90, TOKENS[1] - 120)
    parts: list[str] = [rng.choice(LEADS).format(month=month, year=year), rng.choice(AUTHORITY)]
    quotes: list[str] = []
    said: set[str] = set()
    for person in people:
        parts.append(rng.choice(INTROS).format(name=person.name, role=person.role))
        issues = rng.sample(["barrier", "cost"], rng.randint(1, 2))
        for n, issue in enumerate(issues):
            unsaid = [q for q in story.QUOTES[(issue, person.side)] if q not in said]
            if not unsaid:
                continue
            said.add(quote := rng.choice(unsaid))
            line = rng.choice(QUOTE_FORMS).format(quote=quote, surname=person.surname)
            (parts if n == 0 else quotes).append(line)  # the first right after the intro
    keys = rng.sample(list(FIGURES), rng.randint(4, 6))
    figures = [FIGURES[k].format(qv=_figure(rng, k), month=month, year=year) for k in keys]
    # The quotes come after their speakers are introduced; figures and fillers anywhere after.
    body = parts + sorted(figures + quotes, key=lambda _: rng.random())
    fillers = rng.sample(FILLERS, len(FILLERS))
    closing = rng.choice(CLOSINGS).format(month=rng.choice(MONTHS), year=year + 1)
    unique = f"The water reached the door of number {index + 1} Mill Lane, a neighbour recalled."
    body.insert(rng.randint(2, len(body)), unique)
    # Fillers until the text is long enough: 15–25 sentences with the headline and closing.
    while fillers and len(body) < 23:
        size = len(tokens(" ".join([*body, closing]))) + 6 * (len(body) + 2)
        if len(body) >= 13 and size >= target:
            break
        body.insert(rng.randint(2, len(body)), fillers.pop())
    body.append(closing)
    paragraphs = [" ".join(body[i : i + 2]) for i in range(0, len(body), 2)]
    return "\n\n".join([rng.choice(HEADLINES), *paragraphs]) + "\n"


def write_articles(folder: Path, seed: int, indices: range) -> None:
    for index in indices:
        path = folder / f"{index + 1:04d}_brenmouth-flood.txt"
        path.write_text(article_text(seed, index), encoding="utf-8")


# --- runs ------------------------------------------------------------------------------------


@dataclass
class Measured:
    run: Run
    wall: float
    cpu: float
    requests: list[dict[str, Any]]

    def calls(self, kind: str | None = None) -> int:
        return sum(1 for r in self.requests if kind is None or r["kind"] == kind)

    def prompt_tokens(self, *kinds: str) -> int:
        return sum(r["prompt_tokens"] for r in self.requests if r["kind"] in kinds)

    def cached_tokens(self, *kinds: str) -> int:
        return sum(r["cached_tokens"] for r in self.requests if r["kind"] in kinds)


def measured(
    endpoint: Endpoint, articles: list[Article], state: Path, concurrency: int
) -> Measured:
    endpoint.reset()
    settings = Settings(model="gpt-4o-mini", base_url=endpoint.base_url, api_key="sk-bench-dummy")
    warnings: list[str] = []
    pipeline = Pipeline(settings, cache=Cache(state), concurrency=concurrency, warn=warnings.append)
    cpu, wall = time.process_time(), time.perf_counter()
    run = asyncio.run(pipeline.run(articles))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for warning in warnings[:3]:
        print(f"  briefgen warned: {warning}")
    if len(warnings) > 3:
        print(f"  ... and {len(warnings) - 3} more warnings")
    return Measured(run, wall, cpu, endpoint.stats())


def describe(label: str, m: Measured, count: int) -> str:
    result, usage = m.run.result, m.run.usage
    reasks = sum(1 for r in m.requests if r["reask"])
    return (
        f"{label}: {count} articles, {m.wall:.2f} s wall, {m.cpu * 1000:.0f} ms CPU; "
        f"{m.calls()} calls ({m.calls('article')} article, {m.calls('corpus')} corpus, "
        f"{m.calls('merge')} merge; briefgen counted {usage.calls}), {reasks} re-asks, "
        f"{usage.cache_hits} cache hits, {usage.levels} corpus level(s); "
        f"{len(result.failed)} failed, {len(result.all_dropped())} items dropped, "
        f"{result.verified_count()} verified"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    n, c, latency = args.articles, args.concurrency, args.latency
    name, _ = encoding()
    started = time.process_time()
    for module in ("openai", "openai.resources", "instructor"):  # once per process, not per article
        importlib.import_module(module)
    imports = time.process_time() - started
    with tempfile.TemporaryDirectory() as tmp, Endpoint(latency) as endpoint:
        root = Path(tmp)
        folder, state = root / "articles", root / "state"
        folder.mkdir()
        write_articles(folder, args.seed, range(n))
        articles = load([folder])
        if len(articles) != n:
            raise SystemExit(f"expected {n} distinct articles, loaded {len(articles)}")
        own = {a.id: len(tokens(a.numbered())) for a in articles}
        sizes = [len(a.sentences) for a in articles]
        print(
            f"articles: {n}, {min(sizes)}–{max(sizes)} sentences, {min(own.values())}–"
            f"{max(own.values())} tokens of numbered text ({name}); endpoint latency "
            f"{latency:g} s, concurrency {c}; importing openai and instructor took "
            f"{imports * 1000:.0f} ms CPU, before the runs"
        )
        first = measured(endpoint, articles, state, c)
        print(describe("first run", first, n))
        rerun = measured(endpoint, articles, state, c)
        print(describe("unchanged re-run", rerun, n))
        write_articles(folder, args.seed, range(n, n + 1))
        grown = load([folder])
        added = measured(endpoint, grown, state, c)
        print(describe("one article added", added, n + 1))

    for label, m in (("first run", first), ("re-run", rerun), ("added", added)):
        for d in m.run.result.all_dropped()[:5]:
            print(f"  dropped in {label}: {d.where}: {d.reason}")
        for r in m.run.result.failed[:5]:
            print(f"  failed in {label}: {r.article.name}: {r.failure}")
    article_calls = [r for r in first.requests if r["kind"] == "article" and not r["reask"]]
    overhead = [r["prompt_tokens"] - own[r["article"]] for r in article_calls]
    levels = first.run.usage.levels
    ideal = math.ceil(n / c) * latency + levels * latency
    total_own = sum(own.values())
    corpus_tokens = first.prompt_tokens("corpus", "merge")
    every = first.prompt_tokens("article", "corpus", "merge")
    cached = first.cached_tokens("article", "corpus", "merge")
    print(
        f"prompt tokens, first run: {every:,} ({cached:,} cached, "
        f"{cached / max(every, 1):.1%}); corpus and merge calls {corpus_tokens:,}"
    )
    figures = {
        "articles": n,
        "concurrency": c,
        "latency_s": latency,
        "wall_s": round(first.wall, 3),
        "ideal_s": round(ideal, 3),
        "efficiency": round(ideal / first.wall, 3),
        "article_tokens_per_article": round(total_own / n, 3),
        "overhead_tokens_per_article": round(statistics.fmean(overhead), 3) if overhead else None,
        "cpu_ms_per_article": round(first.cpu * 1000 / n, 3),
        "corpus_token_share": round(corpus_tokens / total_own, 3),
        "rerun_calls": rerun.calls(),
        "add_one_calls": added.calls(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
