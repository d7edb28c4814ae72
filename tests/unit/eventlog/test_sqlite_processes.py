"""The SQLite log across processes: SIGKILL at any moment loses and duplicates nothing, and
two processes append to one file at once without losing or reordering a record."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import PollStatus, SourcePolled, new_event
from services.eventlog import Message, NewTopic, open_log
from services.eventlog.codec import decode, encode

WORKER = Path(__file__).resolve().parents[2] / "support" / "log_workers.py"


def _event(i: int) -> Message:
    payload = SourcePolled(
        source_id=f"src-{i}",
        url="https://example.org/feed",
        polled_at=datetime.now(UTC),
        status=PollStatus.OK,
        latency_ms=1.0,
    )
    return encode(new_event(payload, id=f"poll-{i}", source="/test"), topic="in", key=f"src-{i}")


def _read_all(url: str, topic: str) -> list:
    with open_log(url) as log, log.consumer([topic], group=None) as reader:
        total = sum(log.end_offsets([topic]).values())
        out = []
        while len(out) < total:
            out += reader.poll(max_records=1000, timeout_s=0.5)
        return out


@pytest.mark.slow
def test_sigkill_between_append_and_commit_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    # A killed member holds its partitions until its session times out: keep that short.
    url = f"sqlite:///{tmp_path}/crash.db?session_timeout_ms=1000&heartbeat_interval_ms=100"
    inputs = 3000
    with open_log(url) as log:
        log.create_topics([NewTopic("in", 3), NewTopic("out", 3)])
        for start in range(0, inputs, 100):
            log.append([_event(i) for i in range(start, start + 100)])
    rng = random.Random(20261127)
    kills = 0
    command = [sys.executable, str(WORKER), "copy", url, "in", "out", "copier", "1"]
    for attempt in range(10):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        seen, target = 0, rng.randint(1, 6)
        for line in proc.stdout:  # wait until the worker is busy (startup takes a while)
            seen += line.startswith("committing")
            if seen == target or line.startswith("idle"):
                break
        # Even attempts: kill now, after a batch's outputs were appended and while its offsets
        # are being committed. Odd ones: at a random later moment.
        if attempt % 2:
            time.sleep(rng.uniform(0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    assert kills >= 8, "the test must actually kill the worker mid-run"
    with open_log(url) as log:
        assert sum(log.lag("copier", ["in"]).values()) > 0, (
            "the kills came too late to test anything"
        )
    final = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    with open_log(url) as log:
        assert sum(log.lag("copier", ["in"]).values()) == 0
    out = [decode(r) for r in _read_all(url, "out")]
    ids = Counter(e.id for e in out)
    assert len(out) == inputs, f"expected {inputs} outputs after {kills} kills, got {len(out)}"
    assert set(ids) == {f"copy-poll-{i}" for i in range(inputs)}
    assert max(ids.values()) == 1, "an input was processed into two outputs"


def test_two_processes_append_to_one_file_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    per_writer = 3000
    with open_log(url) as log:
        log.create_topics([NewTopic("shared", 4)])
    writers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "write", url, "shared", name, str(per_writer)]
        )
        for name in ("alpha", "beta")
    ]
    for w in writers:
        assert w.wait(timeout=120) == 0
    records = _read_all(url, "shared")
    assert len(records) == 2 * per_writer
    by_partition: dict[int, list[int]] = defaultdict(list)
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_partition[r.partition].append(r.offset)
        assert r.key is not None
        by_key[r.key].append(int(r.value.split(b":")[1]))
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets))), "offsets are contiguous: no gap, no overlap"
    for key, sequence in by_key.items():
        assert sequence == sorted(sequence), f"order kept for key {key!r}"
    assert {r.value for r in records} == {
        f"{n}:{i}".encode() for n in ("alpha", "beta") for i in range(per_writer)
    }
