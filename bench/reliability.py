"""The reliability proofs at full size: ``python bench/reliability.py [--quick]``.

Runs the tests of tests/reliability with the big configurations of issue 8:

- crash on SQLite: 20,000 corpus articles through ``tocsin run``, SIGKILL at 10 random
  moments, restart each time, then ``--until-idle``; compared with a clean run of the same
  input measured in the same run (the baseline: its duration is printed next to the
  crashed run's);
- crash on Kafka: services as separate processes (``tocsin serve``) killed at random
  (20,000 articles, as on SQLite; the session broker is Tansu);
- broker outage: the connection to the broker cut for 30 s mid-run (5,000 articles);
- full disk and read-only data folder at start.

Each test prints its figures (durations, kill moments, records after each kill, repeats
by idempotency key, digests relisted); nothing here asserts a timing. ``--quick`` runs the
CI sizes. The corpus is read from $TOCSIN_CORPUS or ../shared/corpus.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIG = {
    "TOCSIN_RELIABILITY_ARTICLES": "20000",
    "TOCSIN_RELIABILITY_KAFKA_ARTICLES": "20000",
    "TOCSIN_RELIABILITY_OUTAGE_ARTICLES": "5000",
    "TOCSIN_RELIABILITY_OUTAGE_S": "30",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI sizes")
    parser.add_argument("-k", default="", help="only the tests matching (pytest -k)")
    args = parser.parse_args()
    env = {**os.environ, **({} if args.quick else BIG)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=7200",
        str(ROOT / "tests" / "reliability"),
    ]
    if args.k:
        command += ["-k", args.k]
    sizes = {k: env.get(k, "default") for k in BIG}
    print(f"reliability proofs with {sizes}", flush=True)
    start = time.monotonic()
    code = subprocess.call(command, cwd=ROOT, env=env)
    print(f"total {time.monotonic() - start:.0f}s, exit {code}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
