"""The notifier: subscriptions, channels, digests, exactly-once delivery (see runner.py),
and the alert lifecycle fold the CLI shows (lifecycle.py).

Layout: the subscription model and ``matches`` live in the shared ``services.alerting``
library (``subscriptions`` here re-exports the model), ``core`` (pure: matching, delivery ids,
outcome events), ``book`` (subscriptions in force), ``delivery`` (worker per subscription:
rate limit, digests, retries), ``tracker`` (commit watermarks), ``channels/`` (webhook,
slack/mattermost, email), ``lifecycle`` (alert status fold), ``runner`` (the service).

Atom feed and SSE (served by the API): the notifier sends nothing for ``atom`` / ``sse``
subscriptions and records no delivery for them. The API projects ``alerts.raised`` (and
``subscriptions``) itself and filters with ``services.alerting.matches``; the only state it
needs is the subscription and the alert stream, both on the log.
"""
