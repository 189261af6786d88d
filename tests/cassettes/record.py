"""Re-record `tests/cassettes/seeds.yaml` from the hand-written script in `script/seeds/`.

    python tests/cassettes/record.py

starts the scripted endpoint (`tests/scripted.py`) on loopback and runs
`briefgen summarize seeds/ --record tests/cassettes/seeds.yaml` against it. To record
against a real model instead, see README.md beside this file.
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


def main() -> int:
    script = load_script(HERE / "script" / "seeds")
    with serve(Script(script)) as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-scripted-dummy"}
        command = [
            sys.executable,
            "-m",
            "briefgen",
            "summarize",
            str(ROOT / "seeds"),
            "--record",
            str(HERE / "seeds.yaml"),
            "--base-url",
            server.base_url,
            "--model",
            MODEL,
            "--concurrency",
            "1",
            "-o",
            os.devnull,
        ]
        return subprocess.run(command, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
