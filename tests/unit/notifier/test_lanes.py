"""A subscription's worker sends up to ``lanes`` messages at once to a slow receiver, keeps
the updates of one alert in the order they were raised, and reports every outcome."""

from __future__ import annotations

import threading
import time

from notifier_support import Receiver, alert
from service_helpers import wait_for

from services.alerting.subscriptions import parse_subscription
from services.notifier.channels import build_channel
from services.notifier.core import Intent
from services.notifier.delivery import Outcome, Worker
from services.runtime.clock import SystemClock


class SlowReceiver(Receiver):
    """Answers every request after 0.2 s, counting how many were in flight at once."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.in_flight = 0
        self.most = 0
        self.gauge = threading.Lock()

    def _handle(self, handler, body):  # type: ignore[no-untyped-def]
        with self.gauge:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.2)
        with self.gauge:
            self.in_flight -= 1
        super()._handle(handler, body)


def run_worker(lanes: int, intents: list[Intent]) -> tuple[SlowReceiver, list[Outcome], float]:
    receiver = SlowReceiver()
    sub = parse_subscription(
        {
            "id": "desk",
            "channel": {"kind": "webhook", "url": receiver.url},
            "updates": True,
            "delivery": {"timeout_s": 5, "rate_per_minute": 100_000},
        }
    )
    outcomes: list[Outcome] = []
    stop = threading.Event()
    worker = Worker(
        sub, build_channel(sub), outcomes.append, clock=SystemClock(), stop=stop, lanes=lanes
    )
    worker.start()
    started = time.monotonic()
    try:
        for intent in intents:
            worker.submit(intent)
        wait_for(lambda: sum(len(o.intents) for o in outcomes) == len(intents), timeout_s=20)
        took = time.monotonic() - started
    finally:
        worker.retire()
        worker.join(10)
        stop.set()
        receiver.close()
    assert not worker.is_alive()
    return receiver, outcomes, took


def intents_for(alerts: list[tuple[int, int]]) -> list[Intent]:
    out = []
    for n, revision in alerts:
        a = alert(n, revision=revision)
        out.append(Intent(f"dlv_{n}_{revision}", "desk", a, f"ev_{n}_{revision}"))
    return out


def test_lanes_send_in_parallel_and_keep_each_alerts_order() -> None:
    # 8 alerts, the first with 3 revisions: 10 messages, each answered in 0.2 s
    intents = intents_for([(0, 0), (0, 1), (0, 2)] + [(n, 0) for n in range(1, 8)])
    receiver, outcomes, took = run_worker(4, intents)
    assert all(o.ok and not o.digest for o in outcomes)
    assert receiver.most >= 2, "no two messages were ever in flight at once"
    assert took < 10 * 0.2, f"{took:.2f} s: no faster than one at a time"
    revisions = [
        r.json()["alerts"][0]["revision"]
        for r in receiver.received
        if r.json()["alerts"][0]["alert_id"] == intents[0].alert.alert_id
    ]
    assert revisions == [0, 1, 2]


def test_one_lane_sends_one_at_a_time() -> None:
    receiver, outcomes, _ = run_worker(1, intents_for([(n, 0) for n in range(4)]))
    assert receiver.most == 1 and len(outcomes) == 4
