"""``build(context)``: the enricher as a consumer of ``articles.published``.

The consumer group is named after the enricher version (``enricher.<version>``). A new
version (new code or new gazetteer data) therefore starts a new group, which reads
``articles.published`` from the beginning and re-enriches history under its own version
and ids, while the live version's group runs on. Several processes of one version share
the group and split the partitions between them.

Serving (``run``) under ``tocsin run``, where every service is a thread of one interpreter,
the enrichment itself runs in worker processes (one per core but one, at most 4; see
pool.py), so that it uses another core instead of holding the GIL the other services need.
Served alone (``tocsin serve enricher``) it enriches in its own process unless
``enricher.workers`` asks for workers (a machine or container with cores to spare: beside
the other services' processes, extra workers only compete with them for the same cores).
``run_until_idle`` (batch jobs, tests) always enriches in its own thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from schemas import CloudEvent
from services.enricher.core import Enricher
from services.enricher.pool import EnrichPool, auto_workers
from services.enricher.settings import EnricherSettings, build_enricher
from services.eventlog import Record
from services.runtime.bootstrap import group, topic
from services.runtime.loop import ConsumerLoop, Emit, Handler, LoopSettings
from services.runtime.service import ConsumerService, ServiceContext
from services.runtime.settings import ConfigError, Settings

__all__ = ["EnricherService", "build", "enricher_settings", "group_name", "handler"]

NAME = "enricher"


def group_name(settings: Settings, enricher: Enricher) -> str:
    """The consumer group of this enricher version (under the topic prefix)."""
    return group(settings, f"{NAME}.{enricher.version}")


def handler(enricher: Enricher, enriched_topic: str) -> Handler:
    """The loop's handler: one published article -> one enriched article, keyed by article id."""

    def handle(event: CloudEvent, record: Record) -> Iterable[Emit]:
        out = enricher.enrich(event)
        return [Emit(enriched_topic, out.data.article.article_id, out)]

    return handle


def enricher_settings(cfg: Settings) -> EnricherSettings:
    """The ``enricher:`` section of the settings, validated here (its owner)."""
    try:
        return EnricherSettings.model_validate(cfg.section("enricher"))
    except ValidationError as exc:
        problems = "; ".join(
            f"enricher.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(problems) from exc


class EnricherService(ConsumerService):
    """The consumer loop, with the worker pool as its batch handler while serving."""

    def __init__(self, loop: ConsumerLoop, pool: EnrichPool | None) -> None:
        super().__init__(NAME, loop)
        self.pool = pool

    def run(self) -> None:
        if self.pool is None:
            super().run()
            return
        self.pool.start()
        self.loop.batch_handler = self.pool
        try:
            super().run()
        finally:
            self.loop.batch_handler = None
            self.pool.close()


def build(context: ServiceContext, settings: EnricherSettings | None = None) -> EnricherService:
    """The enricher service; ``settings`` override the configuration's ``enricher:`` section."""
    cfg = context.settings
    settings = settings or enricher_settings(cfg)
    enricher = build_enricher(settings)
    runtime = cfg.runtime
    loop = ConsumerLoop(
        context.log,
        group=group_name(cfg, enricher),
        topics=[topic(cfg, "articles.published")],
        handler=handler(enricher, topic(cfg, "articles.enriched")),
        deadletter_topic=topic(cfg, "deadletter"),
        stop=context.stop,
        settings=LoopSettings.from_runtime(runtime),
        metrics=context.metrics,
        source=enricher.source,
    )
    workers = settings.workers
    if workers is None:
        workers = auto_workers() if context.shared_process else 0
    enriched = topic(cfg, "articles.enriched")
    pool = EnrichPool(enricher, settings, enriched, workers) if workers else None
    return EnricherService(loop, pool)
