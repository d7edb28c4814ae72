"""Subscription events: subscriptions created, updated or deleted through the API.

Subscriptions come from the YAML config and from these events on the ``subscriptions``
topic (keyed by subscription id). ``definition`` is the subscription as the config file
spells it (see services/alerting/subscriptions.py); the notifier validates it and refuses
an invalid one with a clear error, as it does for the config. A secret in a definition
should be a ``${ENV}`` reference, resolved by the notifier: the log is not a secret store.
"""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import JsonObject, Payload

SUBSCRIPTION_CREATED: Final = "tocsin.subscription.created.v1"
SUBSCRIPTION_UPDATED: Final = "tocsin.subscription.updated.v1"
SUBSCRIPTION_DELETED: Final = "tocsin.subscription.deleted.v1"


class SubscriptionCreated(Payload):
    event_type = SUBSCRIPTION_CREATED

    subscription_id: str = Field(min_length=1, max_length=200)
    definition: JsonObject
    by: str = Field(min_length=1, max_length=200)
    at: AwareDatetime


class SubscriptionUpdated(Payload):
    event_type = SUBSCRIPTION_UPDATED

    subscription_id: str = Field(min_length=1, max_length=200)
    definition: JsonObject
    by: str = Field(min_length=1, max_length=200)
    at: AwareDatetime


class SubscriptionDeleted(Payload):
    event_type = SUBSCRIPTION_DELETED

    subscription_id: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=200)
    at: AwareDatetime
