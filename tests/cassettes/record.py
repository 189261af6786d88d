"""Re-record the cassettes beside this file from the hand-written scripts in `script/`.

    python tests/cassettes/record.py            # every recording
    python tests/cassettes/record.py battery    # one of them

Each recording starts the scripted endpoint (`tests/scripted.py`) on loopback and runs
`briefgen summarize ARTICLES --record CASSETTE` against it:

- `seeds`: `seeds/` → `seeds.yaml`, from `script/seeds/` (the analyst's answers for the demo);
- `battery`: `tests/battery/articles/` → `battery.yaml`, from `script/battery/` (answers that
  are wrong on purpose, to prove each way of failing is caught);
- `seeds-tree`: `seeds/` with `--context-budget 3000` → `seeds-tree.yaml`, from `script/seeds/`
  and `script/seeds-tree/` (the corpus step in two parts, 000 and 001–004, and a merge);
- `louisiana`: `samples/louisiana-2016/` (the second sample corpus: saved pages, text and
  HTML, junk left in) → `louisiana.yaml`, from `script/louisiana/`;
- `seeds-tools-strict`, `seeds-json-schema`, `seeds-json`, `seeds-md-json`: the seed run
  asked in each other `--mode` (the four above are in `--mode tools`), from `script/seeds/`;
  the scripted endpoint answers in the form each asks for (a tool call, the JSON itself, or
  a fenced ```json block);
- `seeds-batch`, `seeds-batch-expired`: the seed run with `--batch`, through the scripted
  Batch API (`scripted.Batches`: upload, create, two looks, download), the second with a
  batch that expired before answering 003 (`script/seeds-batch-expired/_batch.json`).

To record against a real model instead, see README.md beside this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from scripted import MODEL, Script, load_script, serve  # noqa: E402

TREE_BUDGET = "3000"  # prompt tokens: the seeds split into two parts, then one merge

SEEDS = ROOT / "seeds"
# name: (articles, script folders, extra options)
TOOLS = ["--mode", "tools"]
RECORDINGS: dict[str, tuple[Path, list[str], list[str]]] = {
    "seeds": (SEEDS, ["seeds"], TOOLS),
    "battery": (ROOT / "tests" / "battery" / "articles", ["battery"], TOOLS),
    "seeds-tree": (SEEDS, ["seeds", "seeds-tree"], [*TOOLS, "--context-budget", TREE_BUDGET]),
    "louisiana": (ROOT / "samples" / "louisiana-2016", ["louisiana"], TOOLS),
    # The seed run in each other way of asking for the answer's shape.
    **{
        f"seeds-{mode}": (SEEDS, ["seeds"], ["--mode", mode])
        for mode in ("tools-strict", "json-schema", "json", "md-json")
    },
    # The article stage through the scripted Batch API: every answer from the batch (001's
    # fails validation and is re-asked by an ordinary call); then a batch that expired
    # before answering 003, which is asked by an ordinary call.
    "seeds-batch": (SEEDS, ["seeds"], [*TOOLS, "--batch"]),
    "seeds-batch-expired": (SEEDS, ["seeds", "seeds-batch-expired"], [*TOOLS, "--batch"]),
}


def record(name: str) -> int:
    articles, folders, options = RECORDINGS[name]
    script = {k: v for f in folders for k, v in load_script(HERE / "script" / f).items()}
    with serve(Script(script)) as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-scripted-dummy", "BRIEFGEN_BATCH_POLL": "0"}
        command = [
            sys.executable,
            "-m",
            "briefgen",
            "summarize",
            str(articles),
            "--record",
            str(HERE / f"{name}.yaml"),
            "--base-url",
            server.base_url,
            "--model",
            MODEL,
            "--concurrency",
            "1",
            "-o",
            os.devnull,
            *options,
        ]
        return subprocess.run(command, env=env, check=False).returncode


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in RECORDINGS]
    if unknown:
        print(f"unknown recording {unknown[0]!r}; choose from {', '.join(RECORDINGS)}")
        return 2
    return max((record(name) for name in names or list(RECORDINGS)), default=0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
