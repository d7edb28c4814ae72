"""The poller: watch sources politely, turn every new article into ``article.published``.

Layout: ``config`` (source entries, validated at load), ``fetch`` (one shared httpx client:
conditional GET, caps, per-host limits, retries), ``parsers/`` (feed, page, jsonl),
``parsing`` (inline or in parser processes), ``core`` (pure: items -> events, deterministic
ids), ``state`` (known articles and source health, rebuilt from the log), ``poller`` (one
poll end to end), ``runner`` (APScheduler service), ``assignment`` (several pollers
splitting the sources), ``opml`` (import).
"""
