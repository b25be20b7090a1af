"""Counter alerts: the pure rule, the check after each stored batch, acknowledging and notes,
and the policy's [alerts] table."""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import tomllib

import pytest
from factories import T0, incoming, rating_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ratings import alerts
from collector.db import audit
from collector.evaluation import policy as pol
from collector.ratings.alerts import AlertState, Decision, Press, detect
from collector.demo.seed import seed_demo
from collector.db.store import Store, connect
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter
from collector.org.registry import register_device

RULE = pol.DEFAULT_ALERT_RULE
MIN = 60_000
W = RULE.window_minutes * MIN  # 15 minutes


def presses(*levels, scale=4, step=MIN, start=0, officer="A"):
    """Presses one `step` apart from `start`; a level of None is an excluded press (level 1)."""
    return [Press(f"p{i}", start + i * step, scale, level or 1,
                  None if level else "cooldown", officer)
            for i, level in enumerate(levels)]


# --- detect: raising ------------------------------------------------------------------------

@pytest.mark.parametrize("scale, levels, negative", [
    (4, (1, 1, 3, 4), 2),  # exactly 4 ratings, exactly 50 % negative: raise
    (4, (1, 1, 1), None),  # 100 % negative but only 3 ratings
    (4, (1, 3, 4, 4), None),  # 25 %
    (4, (1, 1, 3, 4, 4), None),  # 40 %
    (4, (1, 1, 1, 3, 4), 3),  # 60 %
    (4, (2, 2, 2, 1), None),  # neutral (Bình thường) is not negative
    (3, (1, 1, 2, 3), 2),  # 3-level: level 1 is "Không hài lòng", level 2 "Hài lòng"
    (3, (1, 2, 2, 2), None),
    (5, (2, 1, 3, 4), 2),  # 5-level: levels 1 and 2 are both negative
    (5, (1, 3, 3, 5), None),  # level 3 of 5 is neutral
])
def test_threshold_per_scale(scale, levels, negative):
    decision = detect(presses(*levels, scale=scale), RULE)
    if negative is None:
        assert decision == alerts.NOTHING
    else:
        assert decision == Decision("raise", 0, (len(levels) - 1) * MIN, len(levels), negative,
                                    "A")


def test_presses_exactly_a_window_apart_do_not_share_it():
    # 4 negative presses spanning exactly 15 minutes: the first is outside the window (t−15, t].
    apart = [Press(f"p{i}", t, 4, 1) for i, t in enumerate((0, W // 3, 2 * W // 3, W))]
    assert detect(apart, RULE).action == "none"
    within = apart[:3] + [Press("p3", W - 1, 4, 1)]
    assert detect(within, RULE) == Decision("raise", 0, W - 1, 4, 4, None)


def test_older_presses_passed_in_are_ignored():
    old = presses(1, 1, 1, step=W)  # each a full window before the next
    assert detect(old + presses(4, start=3 * W), RULE).action == "none"


def test_excluded_presses_never_count():
    assert detect(presses(1, 1, 1, None), RULE).action == "none"  # 3 counted
    assert detect(presses(1, None, 1, 4, 1), RULE) == Decision("raise", 0, 4 * MIN, 4, 3, "A")
    # An excluded newest press does not end the window: the last counted one does.
    assert detect(presses(1, 1, 3, 4, None), RULE) == Decision("raise", 0, 3 * MIN, 4, 2, "A")


def test_share_is_compared_exactly():
    rule = dataclasses.replace(RULE, negative_share=0.28, min_ratings=25)
    assert 0.28 * 25 > 7  # in floating point
    seven = presses(*[1] * 7 + [4] * 18, step=MIN // 2)
    assert detect(seven, rule) == Decision("raise", 0, 12 * MIN, 25, 7, "A")  # 28 % exactly
    assert detect(seven[1:] + presses(4, start=12 * MIN + 1), rule).action == "none"


def test_officer_is_who_got_most_negative_presses_latest_on_a_tie():
    mixed = [Press("a", 0, 4, 1, None, "X"), Press("b", 1, 4, 1, None, "Y"),
             Press("c", 2, 4, 1, None, "Y"), Press("d", 3, 4, 4, None, "Z")]
    assert detect(mixed, RULE).officer_id == "Y"
    tie = [Press("a", 0, 4, 1, None, "X"), Press("b", 1, 4, 1, None, "Y"),
           Press("c", 2, 4, 4, None, "Z"), Press("d", 3, 4, 4, None, "Z")]
    assert detect(tie, RULE).officer_id == "Y"


# --- detect: one alert per burst ------------------------------------------------------------

OPEN = AlertState(1, 0, 3 * MIN, 4, 4)


def test_a_negative_press_extends_the_open_alert():
    burst = presses(1, 1, 1, 1, 4, 1)
    assert detect(burst, RULE, OPEN) == Decision("extend", 0, 5 * MIN, 6, 5)


def test_a_positive_press_does_not_extend():
    assert detect(presses(1, 1, 1, 1, 4), RULE, OPEN).action == "none"


def test_a_negative_press_after_the_burst_calmed_down_does_not_extend():
    calm = presses(1, 1, 1, 1, 4, 4, 4, 4, 4, 1)  # 5 of 10 would still be 50 %
    assert detect(calm, RULE, OPEN).action == "extend"
    calmer = presses(1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 1)  # 5 of 11
    assert detect(calmer, RULE, OPEN).action == "none"


def test_an_open_alert_a_whole_window_ago_does_not_absorb_a_new_burst():
    # The newest press exactly a window after the alert's last: the alert is out of the window.
    later = presses(1, 1, 1, 1, start=W)
    assert detect(later, RULE, OPEN) == Decision("raise", W, W + 3 * MIN, 4, 4, "A")
    just_within = presses(1, 1, 1, 1, start=W - 1)
    assert detect(just_within, RULE, OPEN) == Decision("extend", 0, W - 1 + 3 * MIN, 8, 8)


def test_after_acknowledgement_only_fresh_presses_raise_again():
    acknowledged = dataclasses.replace(OPEN, acknowledged=True)
    assert detect(presses(1, 1, 1, 1, 1), RULE, acknowledged).action == "none"
    assert detect(presses(1, 1, 1, 1, 1, 1, 1), RULE, acknowledged).action == "none"  # 3 fresh
    assert detect(presses(1, 1, 1, 1, 1, 1, 4, 1), RULE, acknowledged) == \
        Decision("raise", 4 * MIN, 7 * MIN, 4, 3, "A")


def test_late_presses_inside_an_alert_already_raised_change_nothing():
    # An alert covering 0–20 min exists; a backlog of presses from minutes 5–8 arrives.
    covering = AlertState(1, 0, 20 * MIN, 10, 8)
    assert detect(presses(1, 1, 1, 1, start=5 * MIN), RULE, covering).action == "none"
    ack = dataclasses.replace(covering, acknowledged=True)
    assert detect(presses(1, 1, 1, 1, start=5 * MIN), RULE, ack).action == "none"
    # Its first press exactly at the window's end still reaches into it.
    starting = AlertState(1, 3 * MIN, 20 * MIN, 10, 8)
    assert detect(presses(1, 1, 1, 1), RULE, starting).action == "none"


def test_an_alert_entirely_after_the_window_is_ignored():
    after = AlertState(1, 60 * MIN, 70 * MIN, 4, 4)
    assert detect(presses(1, 1, 1, 1), RULE, after).action == "raise"


press_st = st.builds(lambda i, t, level, excluded: Press(f"p{i}", t, 4, level,
                                                          "cooldown" if excluded else None),
                     st.integers(0, 10**6), st.integers(0, 40 * MIN), st.integers(1, 4),
                     st.booleans())


@settings(max_examples=100, deadline=None)
@given(st.lists(press_st, max_size=12, unique_by=lambda p: p.id), st.randoms())
def test_detect_depends_on_the_presses_not_their_order(items, random):
    shuffled = list(items)
    random.shuffle(shuffled)
    decision = detect(items, RULE)
    assert detect(shuffled, RULE) == decision
    if decision.action == "raise":
        assert decision.ratings >= RULE.min_ratings and 2 * decision.negative >= decision.ratings
        assert decision.last_at - decision.first_at < W


# --- after a stored batch -------------------------------------------------------------------

SEQ = iter(range(1, 10**6))


def rating(level=1, minute=0, device="kiosk-hk-01", officer="HK-0001", **extra):
    payload = rating_bytes(device=device, seq=next(SEQ), level=level, officer=officer,
                           ts=T0 + int(minute * MIN), **extra)
    return incoming(payload, device=device, received_at=T0 + int(minute * MIN) + 500)


def ingest(store, batch, now=None):
    """What the ingest does with a batch: commit it, then check it for alerts."""
    record_batch(store.db, batch)
    now = max(i.received_at for i in batch) if now is None else now
    return alerts.check_after_batch(store.db, batch, pol.load_preset("hanoi-3814").alerts, now)


def alert_rows(store):
    return list(store.db.query("SELECT * FROM alerts ORDER BY id"))


def test_burst_from_store_batches(store):
    # One press per batch, a minute apart, as a live device sends them.
    raised = [ingest(store, [rating(level, minute)]) for minute, level in
              enumerate((1, 4, 1, 3))]
    assert raised[:3] == [[], [], []] and len(raised[3]) == 1
    alert_id = raised[3][0]
    assert ingest(store, [rating(1, 4)]) == [alert_id]  # extends
    assert ingest(store, [rating(4, 5)]) == []  # a positive press does not
    [row] = alert_rows(store)
    assert (row["counter_id"], row["officer_id"], row["kind"]) == ("hk-q1", "HK-0001",
                                                                   "negative_share")
    assert (row["first_at"], row["last_at"], row["ratings"], row["negative"]) == \
        (T0, T0 + 4 * MIN, 5, 3)
    assert row["raised_at"] == T0 + 3 * MIN + 500 and row["acknowledged_at"] is None

    # A quiet quarter of an hour later, a new burst is a new alert.
    assert ingest(store, [rating(1, 30)]) == []
    second = ingest(store, [rating(1, 31), rating(1, 32), rating(4, 33)])
    assert len(second) == 1 and second != raised[3]
    assert [(r["first_at"], r["ratings"], r["negative"]) for r in alert_rows(store)][1] == \
        (T0 + 30 * MIN, 4, 3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_how_presses_are_batched_does_not_change_the_alerts(tmp_path, seed):
    rnd = random.Random(seed)
    minutes = sorted(rnd.sample(range(240), 60))
    presses_in_order = [rating(rnd.choice((1, 1, 2, 3, 4)), m) for m in minutes]
    outcomes = []
    for name, size in (("one", len(minutes)), ("each", 1), ("sevens", 7)):
        store = Store(tmp_path / f"{name}.db")
        seed_demo(store, 4)
        for i in range(0, len(minutes), size):
            ingest(store, presses_in_order[i:i + size], now=T0 + 300 * MIN)
        outcomes.append([(r["first_at"], r["last_at"], r["ratings"], r["negative"])
                         for r in alert_rows(store)])
        store.close()
    assert outcomes[0] and outcomes[0] == outcomes[1] == outcomes[2]


def test_a_burst_going_on_after_acknowledgement_raises_one_new_alert(store):
    [first] = ingest(store, [rating(1, m) for m in range(4)])
    alerts.AlertService(store.db, clock=lambda: T0 + 4 * MIN).acknowledge(first, "HK-0101")
    assert ingest(store, [rating(1, 4)]) == []  # one fresh press is not evidence yet
    [second] = ingest(store, [rating(1, m) for m in range(5, 8)])
    assert ingest(store, [rating(1, 8)]) == [second]  # extends the open one
    assert [(r["first_at"], r["last_at"], r["ratings"]) for r in alert_rows(store)] == \
        [(T0, T0 + 3 * MIN, 4), (T0 + 4 * MIN, T0 + 8 * MIN, 5)]


def test_a_redelivered_batch_changes_nothing(store):
    batch = [rating(1, m) for m in range(4)]
    assert len(ingest(store, batch)) == 1
    before = alert_rows(store)
    assert ingest(store, batch, now=T0 + 10 * MIN) == []
    assert alert_rows(store) == before


def test_a_backlog_is_judged_on_press_time_and_marked_late(store):
    # The device was offline for two hours; two bursts an hour apart arrive in one batch.
    backlog = [rating(1, m) for m in range(4)] + [rating(4, 20)] + \
        [rating(1, m) for m in range(60, 64)]
    now = T0 + 120 * MIN
    first, second = ingest(store, backlog, now=now)
    assert [(r["first_at"], r["last_at"], r["raised_at"]) for r in alert_rows(store)] == \
        [(T0, T0 + 3 * MIN, now), (T0 + 60 * MIN, T0 + 63 * MIN, now)]
    view = alerts.alert_view(store.db, first)
    assert view["late"] and view["delay_ms"] == now - (T0 + 3 * MIN)
    assert alerts.alert_view(store.db, second)["delay_ms"] == now - (T0 + 63 * MIN)


def test_a_live_alert_is_not_late(store):
    [alert_id] = [i for m in range(4) for i in ingest(store, [rating(1, m)])]
    assert alerts.alert_view(store.db, alert_id)["late"] is False


def test_presses_spread_by_arrival_but_close_by_press_time_raise(store):
    # Received hours apart, pressed within the window: press time decides.
    for m in range(3):
        assert ingest(store, [rating(1, m)], now=T0 + m * 60 * MIN) == []
    assert len(ingest(store, [rating(1, 3)], now=T0 + 200 * MIN)) == 1


def test_counters_statuses_and_excluded_presses(store):
    status = incoming(b'{"v":1,"device":"kiosk-hk-01","state":"offline"}', kind="status")
    rejected = incoming(b"not json")
    batch = [rating(1, m) for m in range(3)] + [rating(1, 3, excluded="cooldown")]
    batch += [rating(1, m, device="kiosk-bd-01", officer="BD-0001") for m in range(4)]
    raised = ingest(store, batch + [status, rejected])
    assert [r["counter_id"] for r in alert_rows(store)] == ["bd-q1"] and len(raised) == 1
    assert alerts.rating_ids([status, rejected, "kiosk-hk-01:1:1", "kiosk-hk-01:1:1"]) == \
        ["kiosk-hk-01:1:1"]


def test_a_3_level_device_alerts_on_its_lowest_level(store):
    register_device(store.db, "kiosk-hk-01", "hk-q1", scale=3, at=T0 - MIN)
    assert ingest(store, [rating(lv, m, scale=3) for m, lv in enumerate((1, 2, 1, 3))])
    assert alert_rows(store)[0]["negative"] == 2


def test_a_database_error_is_logged_not_raised(store, caplog):
    record_batch(store.db, [rating(1, m) for m in range(4)])
    readonly = connect(store.path, readonly=True)
    try:
        with caplog.at_level(logging.ERROR, logger="hailong.alerts"):
            ids = [row[0] for row in store.db.execute("SELECT id FROM ratings")]
            assert len(ids) == 4 and alerts.check_after_batch(readonly, ids, RULE, T0) == []
    finally:
        readonly.conn.close()
    assert "cannot check" in caplog.text and alert_rows(store) == []


# --- acknowledge and notes ------------------------------------------------------------------

@pytest.fixture
def raised(store):
    [alert_id] = ingest(store, [rating(1, m) for m in range(4)])
    return alert_id


def test_acknowledge_once_with_a_comment_audited(store, raised):
    service = alerts.AlertService(store.db, clock=lambda: T0 + 20 * MIN)
    view = service.acknowledge(raised, "HK-0101", "  Đã nhắc nhở cán bộ  ")
    assert (view["state"], view["acknowledged_by"], view["acknowledged_at"]) == \
        ("acknowledged", "HK-0101", T0 + 20 * MIN)
    assert [(n["actor"], n["text"]) for n in view["notes"]] == [("HK-0101", "Đã nhắc nhở cán bộ")]
    with pytest.raises(alerts.AlertConflict, match="đã được HK-0101 xác nhận"):
        service.acknowledge(raised, "HK-0100")
    note = service.add_note(raised, "HK-0100", "Đã làm việc với công dân")
    assert note["alert_id"] == raised
    entries = audit.recent(store.db, None)
    assert [(e.action, e.actor, e.subject) for e in reversed(entries)] == [
        ("alert.acknowledge", "HK-0101", f"alert:{raised}"),
        ("alert.note", "HK-0100", f"alert:{raised}")]
    assert entries[1].after_value["comment"] == "Đã nhắc nhở cán bộ"
    assert audit.verify(store.db).ok


@pytest.mark.parametrize("call, error", [
    (lambda s, a: s.acknowledge(a + 1, "HK-0101"), alerts.AlertNotFound),
    (lambda s, a: s.add_note(a + 1, "HK-0101", "x"), alerts.AlertNotFound),
    (lambda s, a: s.add_note(a, "HK-0101", "   "), alerts.AlertError),
    (lambda s, a: s.add_note(a, "HK-0101", "x" * 1001), alerts.AlertError),
    (lambda s, a: s.add_note(a, "", "x"), alerts.AlertError),
    (lambda s, a: s.acknowledge(a, "HK-0101", 42), alerts.AlertError),
])
def test_refused_requests_write_nothing(store, raised, call, error):
    with pytest.raises(error) as info:
        call(alerts.AlertService(store.db), raised)
    assert info.value.vi and info.value.en
    assert alert_rows(store)[0]["acknowledged_at"] is None
    assert audit.recent(store.db, None) == []
    assert store.db.execute("SELECT COUNT(*) FROM alert_notes").fetchone()[0] == 0


def test_an_empty_comment_is_no_note(store, raised):
    view = alerts.AlertService(store.db).acknowledge(raised, "HK-0101", " ")
    assert view["notes"] == [] and view["state"] == "acknowledged"


def test_the_alert_lists_its_presses_with_excluded_ones(store, raised):
    ingest(store, [rating(1, 1.5, excluded="cooldown")])
    view = alerts.alert_view(store.db, raised)
    assert (view["counter_label"], view["unit_id"], view["officer_name"]) == \
        ("Quầy 1", "hk-1c", "Nguyễn Thị Thu Hường")
    assert [(p["answer"], p["counted"], p["negative"]) for p in view["presses"]] == \
        [("dissatisfied", True, True)] * 2 + [("dissatisfied", False, False)] + \
        [("dissatisfied", True, True)] * 2
    assert view["presses_total"] == 5 and view["presses"][2]["excluded"] == "cooldown"
    assert view["rule"] == RULE.as_dict()


# --- the policy's [alerts] table ------------------------------------------------------------

def preset_data(name):
    with (pol.PRESETS_DIR / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("name", ["hanoi-3814", "decree-335"])
def test_presets_carry_the_issue_example(name):
    assert pol.load_preset(name).alerts == pol.AlertRule(
        window_minutes=15, min_ratings=4, negative_share=0.5,
        negative_answers=("dissatisfied", "very_dissatisfied"), late_after_minutes=5)


def test_a_policy_without_alerts_uses_the_default():
    data = preset_data("hanoi-3814")
    del data["alerts"]
    assert pol.parse_policy(data).alerts == pol.DEFAULT_ALERT_RULE


@pytest.mark.parametrize("key, value, message", [
    ("window_minutes", 0, "alerts.window_minutes"),
    ("window_minutes", 1441, "alerts.window_minutes"),
    ("window_minutes", 15.5, "alerts.window_minutes"),
    ("min_ratings", 0, "alerts.min_ratings"),
    ("negative_share", 0, "alerts.negative_share"),
    ("negative_share", 1.5, "alerts.negative_share"),
    ("negative_share", "half", "alerts.negative_share"),
    ("negative_answers", [], "alerts.negative_answers"),
    ("negative_answers", ["satisfied"], "alerts.negative_answers"),
    ("negative_answers", ["angry"], "alerts.negative_answers"),
    ("negative_answers", ["dissatisfied", "dissatisfied"], "alerts.negative_answers"),
    ("late_after_minutes", -1, "alerts.late_after_minutes"),
    ("late_after_minutes", None, "missing key alerts.late_after_minutes"),
    ("window_minuts", 15, "unknown key alerts.window_minuts"),
])
def test_bad_alerts_key_is_named(key, value, message):
    data = copy.deepcopy(preset_data("decree-335"))
    if value is None:
        del data["alerts"][key]
    else:
        data["alerts"][key] = value
    with pytest.raises(ValueError, match=message):
        pol.parse_policy(data)


def test_neutral_may_be_made_negative_by_a_site():
    data = preset_data("hanoi-3814")
    data["alerts"]["negative_answers"] = ["dissatisfied", "neutral"]
    rule = pol.parse_policy(data).alerts
    assert detect(presses(2, 2, 4, 4), rule).action == "raise"


# --- a roster correction names the alert's officer again (issue 10) ---------------------------

def test_a_roster_correction_moves_the_alerts_officer_with_its_ratings(store, raised):
    """The presses of the burst were attributed to HK-0001 through a wrong roster; correcting
    the shift gives them to HK-0003, and the alert must name HK-0003 too."""
    from collector.roster.shifts import RosterService
    shift_id = store.db.execute("SELECT id FROM roster_shifts WHERE counter_id = 'hk-q1' "
                                "AND replaced_at IS NULL").fetchone()[0]
    RosterService(store, actor="test").correct_shift(shift_id, officer_id="HK-0003",
                                                     reason="Nhầm người trực")
    assert alert_rows(store)[0]["officer_id"] == "HK-0003"
    entry = audit.recent(store.db, None)[0]
    assert entry.after_value["alerts_reattributed"] == {str(raised): "HK-0001→HK-0003"}
    assert audit.verify(store.db).ok


def test_a_cancelled_shift_leaves_the_alert_with_nobody(store, raised):
    from collector.roster.shifts import RosterService
    shift_id = store.db.execute("SELECT id FROM roster_shifts WHERE counter_id = 'hk-q1' "
                                "AND replaced_at IS NULL").fetchone()[0]
    RosterService(store, actor="test").cancel_shift(shift_id, reason="Không có ca này")
    assert alert_rows(store)[0]["officer_id"] is None


def test_an_alert_keeps_the_unit_its_counter_had_when_it_was_raised(store, raised):
    upsert_counter(store.db, "hk-q1", "Quầy 1", "bd-1c")  # the counter goes to another ward later
    assert alert_rows(store)[0]["unit_id"] == "hk-1c"
    assert alerts.alert_view(store.db, raised)["unit_id"] == "hk-1c"
    assert [a["id"] for a in alerts.list_alerts(store.db, within=frozenset({"hk-1c"}))
            ["items"]] == [raised]
    assert alerts.list_alerts(store.db, within=frozenset({"bd-1c"}))["items"] == []
