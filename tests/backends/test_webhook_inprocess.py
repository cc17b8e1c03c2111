"""The webhook sender in-process: respx stands in for the receiver, a virtual clock for time.

Over the wire (tests/backends/test_backends_webhook.py) the same sender delivers to a
real receiver, records a receiver that is down, and is cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import respx

from harness.backends.webhook import WebhookSender
from harness.clock import VirtualClock

RECEIVER = "http://127.0.0.1:9/webhooks/tickets"


async def _settle(sender: WebhookSender) -> None:
    for _ in range(10_000):  # loop turns, not time: the clock is virtual
        if not sender.pending:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{sender.pending} callbacks never finished")


async def test_the_callback_leaves_after_its_delay_with_the_payload_of_that_moment() -> None:
    clock = VirtualClock()
    sender = WebhookSender(clock)
    state = {"status": "pending"}
    with respx.mock(assert_all_called=True) as mock:
        receiver = mock.post(RECEIVER).respond(204)
        sender.schedule(job_id="J1", url=RECEIVER, after_ms=1500, payload=lambda: dict(state))
        state["status"] = "completed"  # changes after scheduling: the send reads it later
        await _settle(sender)
    assert json.loads(receiver.calls.last.request.content) == {"status": "completed"}
    (delivery,) = sender.deliveries
    assert delivery.at_ms == clock.wall_ms() and clock.monotonic() == 1.5
    assert (delivery.job_id, delivery.status_code, delivery.error) == ("J1", 204, None)


async def test_the_receivers_answer_and_a_refusal_are_recorded_not_raised() -> None:
    sender = WebhookSender(VirtualClock())
    with respx.mock() as mock:
        mock.post(RECEIVER).respond(503)
        mock.post("http://127.0.0.1:9/down").mock(side_effect=httpx.ConnectError("refused"))
        sender.schedule(job_id="J1", url=RECEIVER, after_ms=0, payload=dict)
        sender.schedule(job_id="J2", url="http://127.0.0.1:9/down", after_ms=0, payload=dict)
        await _settle(sender)
    by_job = {d.job_id: d for d in sender.deliveries}
    assert (by_job["J1"].status_code, by_job["J1"].error) == (503, None)
    assert by_job["J2"].status_code is None
    assert by_job["J2"].error == "ConnectError: refused"


async def test_closing_cancels_what_is_still_waiting() -> None:
    sender = WebhookSender(VirtualClock())
    with respx.mock(assert_all_called=False) as mock:
        receiver = mock.post(RECEIVER).respond(204)
        sender.schedule(job_id="J1", url=RECEIVER, after_ms=60_000, payload=dict)
        await asyncio.sleep(0)
        await sender.aclose()
    assert sender.pending == 0 and sender.deliveries == [] and not receiver.called
