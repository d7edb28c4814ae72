"""The enricher's worker pool: real worker processes give byte-identical outputs to inline
enrichment, bad records come back as their errors (dead-lettered by the loop as inline), a
killed worker costs nothing, and the serving enricher uses the pool end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas import DeadLetter
from services.enricher import EnricherSettings
from services.enricher.pool import EnrichPool, auto_workers, enrich_records
from services.enricher.runner import EnricherService, build
from services.enricher.settings import build_enricher
from services.eventlog import Message, PoisonRecordError, Record
from services.eventlog.codec import decode, encode
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

from .conftest import Published
from .test_service import ARTICLES, publish, read_all

OUT = "t.articles.enriched"


def records(published: Published, count: int) -> list[Record]:
    out = []
    for n in range(count):
        url, title, text = ARTICLES[n % len(ARTICLES)]
        event = published(f"{url}?n={n}", title, text)
        m = encode(event, topic="t.articles.published", key=event.data.article_id)
        out.append(Record(m.topic, n % 3, n, 0, m.key, m.value))
    out.append(Record("t.articles.published", 0, count, 0, b"x", b"{not json"))
    return out


def wait_up(pool: EnrichPool, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pool._up():
        assert time.monotonic() < deadline, "the enricher workers did not start"
        time.sleep(0.05)


@pytest.fixture
def pool() -> EnrichPool:
    settings = EnricherSettings()
    return EnrichPool(build_enricher(settings), settings, OUT, workers=2)


def test_pool_outputs_equal_inline_and_bad_records_come_back_as_errors(
    pool: EnrichPool, published: Published
) -> None:
    batch = records(published, 30)
    inline = enrich_records(pool.enricher, OUT, batch)
    pool.start()
    try:
        wait_up(pool)
        pooled = pool(batch)
        assert pool.pooled_batches == 1
    finally:
        pool.close()
    assert len(pooled) == len(batch)
    for a, b in zip(inline[:-1], pooled[:-1], strict=True):
        assert isinstance(a, list) and isinstance(b, list)
        assert [(m.topic, m.key, m.value, m.headers) for m in a] == [
            (m.topic, m.key, m.value, m.headers) for m in b
        ]
    assert isinstance(pooled[-1], PoisonRecordError)
    assert "not a valid Tocsin event" in str(pooled[-1])


def test_inline_until_the_workers_are_up_and_after_a_worker_dies(
    pool: EnrichPool, published: Published
) -> None:
    batch = records(published, 10)
    pool.start()
    try:
        first = pool(batch)  # the workers are still loading: enriched inline
        assert pool.pooled_batches == 0
        assert sum(isinstance(o, list) for o in first) == 10
        wait_up(pool)
        assert pool._executor is not None
        for pid in list(pool._executor._processes):  # a worker killed between batches
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        again = pool(batch)  # the broken pool is replaced, this batch enriched inline
        assert pool.restarts == 1
        assert [type(o) for o in again] == [type(o) for o in first]
        wait_up(pool)
        pool(batch)
        assert pool.pooled_batches == 1
    finally:
        pool.close()


def test_serving_enricher_uses_the_pool(tmp_path: Path, published: Published) -> None:
    settings = Settings(
        log=f"sqlite:///{tmp_path / 'tocsin.db'}", topic_prefix="t.", enricher={"workers": 1}
    )
    with open_event_log(settings) as log:
        context = ServiceContext(settings=settings, log=log)
        service = build(context)
        assert isinstance(service, EnricherService) and service.pool is not None
        thread = threading.Thread(target=service.run)
        thread.start()
        try:
            wait_up(service.pool)
            events = [published(f"{u}?s", t, x) for u, t, x in ARTICLES]
            publish(log, settings, events)
            raw = topic(settings, "articles.published")
            log.append([Message(topic=raw, key=b"x", value=b"{not json")])
            out, dead = topic(settings, "articles.enriched"), topic(settings, "deadletter")
            deadline = time.monotonic() + 30
            while sum(log.end_offsets([out, dead]).values()) < 4:
                assert time.monotonic() < deadline, "the serving enricher did not catch up"
                time.sleep(0.05)
        finally:
            context.stop.set()
            thread.join(30)
        assert service.pool.pooled_batches >= 1
        enriched = [decode(r) for r in read_all(log, out)]
        dead_letters = [decode(r).data for r in read_all(log, dead)]
    assert {e.data.article.article_id for e in enriched} == {e.data.article_id for e in events}
    assert len(dead_letters) == 1 and isinstance(dead_letters[0], DeadLetter)


SERVICE = """
import sys, time
from services.enricher.pool import EnrichPool
from services.enricher.settings import EnricherSettings, build_enricher
if __name__ == "__main__":
    settings = EnricherSettings()
    pool = EnrichPool(build_enricher(settings), settings, "t.out", workers=1)
    pool.start()
    while not pool._up():
        time.sleep(0.05)
    print(*pool._executor._processes, flush=True)
    time.sleep(60)
"""


def test_workers_exit_when_the_service_is_killed(tmp_path: Path) -> None:
    """kill -9 leaves nobody to shut the pool down: the workers notice and exit by themselves."""
    script = tmp_path / "service.py"
    script.write_text(SERVICE, encoding="utf-8")
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert workers and all(alive(pid) for pid in workers)
    finally:
        service.kill()
        service.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "an enricher worker outlived its service"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_by_default_only_where_services_share_the_process(tmp_path: Path) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path / 'tocsin.db'}")
    with open_event_log(settings) as log:
        alone = build(ServiceContext(settings=settings, log=log))
        shared = build(ServiceContext(settings=settings, log=log, shared_process=True))
        asked = build(ServiceContext(settings=settings, log=log), EnricherSettings(workers=2))
    assert alone.pool is None  # tocsin serve enricher: its cores belong to the other services too
    assert (shared.pool is not None) == (auto_workers() > 0)  # tocsin run
    assert asked.pool is not None and asked.pool.workers == 2
