"""Alerting: the subscription model and the matching of alerts to subscriptions, shared by
the notifier (push channels) and the API (Atom feeds and SSE streams). Pure: no I/O.

``subscriptions`` validates definitions (config file or ``subscription.*`` events) into
frozen models; ``matching`` says whether an alert is one a subscription asked for.
"""

from services.alerting.matching import AlertFacts, alert_entities, entities_of_conditions, matches
from services.alerting.subscriptions import (
    PULL_KINDS,
    PUSH_KINDS,
    Problem,
    Subscription,
    SubscriptionError,
    definition_problems,
    expand_secrets,
    load_subscriptions,
    parse_subscription,
)

__all__ = [
    "PULL_KINDS",
    "PUSH_KINDS",
    "AlertFacts",
    "Problem",
    "Subscription",
    "SubscriptionError",
    "alert_entities",
    "definition_problems",
    "entities_of_conditions",
    "expand_secrets",
    "load_subscriptions",
    "matches",
    "parse_subscription",
]
