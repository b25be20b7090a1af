"""collector/accounts/ownership.py: the unit (and officer) every scope check asks about.

On the seeded database: Hoàn Kiếm (hk, its one-stop section hk-1c) and Ba Đình (bd, bd-1c),
each with counters q1 and q2 and a device at each. What is pinned is what "belongs to" means:
a device's unit is its counter's now, its past units stay in its history, a task is its
officer's and an alert stays with the unit its counter had when it was raised.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from factories import incoming, rating_bytes

from collector.accounts import ownership
from collector.accounts.ownership import Owner
from collector.core.timeline import LOCAL_TZ
from collector.evaluation.tasks import TaskService
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter
from collector.org.registry import register_device
from collector.ratings import alerts
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE

MIN = 60_000
DAY = int(datetime(2026, 3, 10, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)


def test_units_officers_and_counters(store):
    db = store.db
    assert ownership.unit(db, "hk-1c") == Owner("hk-1c")
    assert ownership.officer(db, "HK-0001") == Owner("hk-1c", "HK-0001")
    assert ownership.officer(db, "HK-0101") == Owner("hk", "HK-0101")  # the ward's leader
    assert ownership.counter(db, "bd-q2") == Owner("bd-1c")
    assert ownership.counter_units(db) == {"hk-q1": "hk-1c", "hk-q2": "hk-1c",
                                           "bd-q1": "bd-1c", "bd-q2": "bd-1c"}
    for lookup in (ownership.unit, ownership.officer, ownership.counter, ownership.device):
        assert lookup(db, "nobody-here") is None
    for lookup in (ownership.officer, ownership.counter, ownership.device):
        assert lookup(db, None) is None  # a write that names no officer, counter or device


def test_a_device_belongs_to_its_counter_s_unit_now_and_keeps_its_past(store):
    db = store.db
    assert ownership.device(db, "kiosk-hk-01") == Owner("hk-1c")
    assert ownership.device_units_ever(db, "kiosk-hk-01") == {"hk-1c"}
    register_device(db, "kiosk-hk-01", "bd-q1")  # moved to Ba Đình
    assert ownership.device(db, "kiosk-hk-01") == Owner("bd-1c")
    assert ownership.device_units_ever(db, "kiosk-hk-01") == {"hk-1c", "bd-1c"}
    assert ownership.device_units_ever(db, "kiosk-zz-99") == set()


def test_a_task_belongs_to_its_officer(store):
    task = TaskService(store, actor="test").create(
        "HK-0001", title="Rà soát", assigned_by="HK-0101", period="month",
        deadline="2026-03-31")["id"]
    assert ownership.task(store.db, task) == Owner("hk-1c", "HK-0001")
    assert ownership.task(store.db, task + 1) is None
    with pytest.raises(OverflowError):  # the caller's input: the app answers 422
        ownership.task(store.db, 2 ** 63)


def test_an_alert_stays_with_the_unit_its_counter_had_when_raised(store):
    db = store.db
    upsert_counter(db, "hk-q3", "Quầy 3", "hk-1c")
    register_device(db, "kiosk-hk-03", "hk-q3", at=DAY - 86_400_000)
    batch = [incoming(rating_bytes(device="kiosk-hk-03", seq=1 + i, level=1, officer="HK-0003",
                                   ts=DAY + i * MIN), device="kiosk-hk-03",
                      received_at=DAY + i * MIN + 300) for i in range(4)]
    record_batch(db, batch)
    [alert_id] = alerts.check_after_batch(db, batch, DEFAULT_ALERT_RULE, DAY + 4 * MIN)
    raised = ownership.alert(db, alert_id)
    assert raised is not None and raised.unit_id == "hk-1c"
    assert raised.officer_id == alerts.alert_view(db, alert_id)["officer_id"]
    upsert_counter(db, "hk-q3", "Quầy 3", "bd-1c")  # the counter moves to Ba Đình later
    assert ownership.counter(db, "hk-q3") == Owner("bd-1c")
    assert ownership.alert(db, alert_id) == raised
    assert ownership.alert(db, alert_id + 1) is None
