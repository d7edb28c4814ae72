"""``tocsin reenrich``: re-enrich the stored articles with a new enricher version.

An enrichment depends on the code and on the gazetteer and taxonomy data; the enricher's
version covers both (``services.enricher.version``) and names its consumer group
(``enricher.<version>``). So a new gazetteer file is a new version whose group has never
committed: it reads ``articles.published`` from the start and appends an
``article.enriched`` event per article under its own version and ids, next to the live
version's events, while the live version's group runs on untouched.

This command does exactly that, from the CLI: it builds the enricher that the configured
``enricher:`` section plus ``--gazetteer`` / ``--taxonomy`` describe, shows its version
and group, and runs it until it has caught up (with a progress bar), or keeps it running
with ``--follow``. Running it again with the same files does nothing new (the group has
committed); the same is reached with ``tocsin serve enricher --until-idle`` and a config
whose ``enricher:`` section names the new files. The rules keep reading every version;
to make the rules use the new enrichments only, deploy the enricher with the new files.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.progress import progress_bar
from services.eventlog import EventLog
from services.runtime.bootstrap import topic
from services.runtime.service import ServiceContext
from services.runtime.shutdown import install_signal_handlers

__all__ = ["reenrich"]


def _lag(elog: EventLog, group: str, name: str) -> int:
    if name not in elog.list_topics():
        return 0
    return sum(elog.lag(group, [name]).values())


def reenrich(
    gazetteer: Annotated[
        list[Path] | None,
        typer.Option(
            "--gazetteer", "-g", help="An extra gazetteer YAML file (repeatable).", exists=True
        ),
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", help="A taxonomy YAML file replacing the bundled one."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep enriching new articles after catching up.")
    ] = False,
    config: ConfigOption = None,
    log_url: LogOption = None,
) -> None:
    """Re-enrich every stored article with a new enricher version (new gazetteer data)."""
    # imported here: every ``tocsin`` command loads this module, the enricher brings NumPy
    from services.enricher.runner import build, enricher_settings, group_name
    from services.enricher.settings import EnricherSettings, build_enricher
    from services.text import DataFileError

    cfg = settings(config, log_url)
    configured = enricher_settings(cfg)
    chosen = EnricherSettings(
        gazetteer=(*configured.gazetteer, *(gazetteer or ())),
        taxonomy=taxonomy or configured.taxonomy,
        include_bundled=configured.include_bundled,
    )
    try:
        live, new = build_enricher(configured), build_enricher(chosen)
    except DataFileError as exc:
        typer.echo(f"tocsin: gazetteer error: {exc}", err=True)
        raise typer.Exit(2) from exc
    group = group_name(cfg, new)
    published = topic(cfg, "articles.published")
    if new.version == live.version:
        typer.echo(
            f"tocsin: enricher {new.version} is the configured version: its group {group} "
            "only continues where it stopped (give a --gazetteer or --taxonomy that changes "
            "the data for a new version)",
            err=True,
        )
    else:
        typer.echo(f"tocsin: re-enriching as {new.version} (group {group})", err=True)
    stop = threading.Event()
    install_signal_handlers(stop)
    with event_log(cfg, existing=True) as elog:
        service = build(ServiceContext(settings=cfg, log=elog, stop=stop), chosen)
        if follow:
            service.run()
            return
        total = _lag(elog, group, published)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                service.run_until_idle()
            except BaseException as exc:  # reported on the main thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="reenrich", daemon=True)
        with progress_bar() as progress:
            task = progress.add_task(f"enricher {new.version}", total=total)
            worker.start()
            while worker.is_alive():
                worker.join(0.5)
                progress.update(task, completed=total - _lag(elog, group, published))
            progress.update(task, completed=total - _lag(elog, group, published))
        if failure:
            raise failure[0]
        left = _lag(elog, group, published)
    typer.echo(
        f"tocsin: enricher {new.version}: {total - left} article(s) enriched"
        + (f", {left} left (stopped)" if left else "")
    )
