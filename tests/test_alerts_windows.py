"""The alert check after a stored batch decides every window exactly as `detect` would
(issue 13, P1: the check skips, by counting, the windows that cannot cross the threshold).

The reference below runs `detect` on every window ending at a press of each batch, in press
order, against the alerts raised so far — the check without any shortcut — and the two must
raise and extend the same alerts, whatever the presses, batches and acknowledgements."""

from __future__ import annotations

import random
from bisect import bisect_right

import pytest
from factories import T0, incoming, rating_bytes

from collector.demo.seed import seed_demo
from collector.db.store import Store
from collector.evaluation import policy as pol
from collector.ingest.recording import record_batch
from collector.ratings import alerts
from collector.ratings.alerts import AlertState, Press

MIN = 60_000
RULE = pol.load_preset("hanoi-3814").alerts


def naive_alerts(batches: list[list[Press]], acknowledged_after: set[int]) -> list[tuple]:
    """Every window ending at each press of a batch, decided by `detect` alone."""
    span = RULE.window_minutes * MIN
    stored: list[Press] = []
    known: list[AlertState] = []
    for number, batch in enumerate(batches):
        stored.extend(p for p in batch if not p.excluded)
        stored.sort(key=lambda p: (p.pressed_at, p.id))
        at = [p.pressed_at for p in stored]
        for end in sorted({p.pressed_at for p in batch if not p.excluded}):
            window = stored[bisect_right(at, end - span):bisect_right(at, end)]
            reaching = [a for a in known if a.last_at > end - span and a.first_at <= end]
            latest = max(reaching, key=lambda a: (a.last_at, a.id)) if reaching else None
            decision = alerts.detect(window, RULE, latest)
            if decision.action == "raise":
                known.append(AlertState(len(known) + 1, decision.first_at, decision.last_at,
                                        decision.ratings, decision.negative))
            elif decision.action == "extend":
                known[known.index(latest)] = AlertState(
                    latest.id, latest.first_at, decision.last_at, decision.ratings,
                    decision.negative, latest.acknowledged)
        if number in acknowledged_after:
            known = [AlertState(a.id, a.first_at, a.last_at, a.ratings, a.negative, True)
                     for a in known]
    return [(a.first_at, a.last_at, a.ratings, a.negative) for a in known]


def check_and_compare(tmp_path, batches: list[list[tuple[float, int, bool]]],
                      acknowledged_after: set[int]) -> list[tuple]:
    """Store each batch of (minute, level, excluded) presses and check it as the ingest does,
    acknowledging every open alert after the batches named; the alerts must be the naive
    ones. Returns them."""
    store = Store(tmp_path / "alerts.db")
    seed_demo(store, 4)
    presses_of, seq = [], 0
    for number, batch in enumerate(batches):
        items, presses = [], []
        for minute, level, excluded in batch:
            seq += 1
            ts = T0 + int(minute * MIN)
            extra = {"excluded": "cooldown"} if excluded else {}
            items.append(incoming(rating_bytes(seq=seq, level=level, ts=ts, **extra),
                                  received_at=ts + 500))
            presses.append(Press(f"kiosk-hk-01:1:{seq}", ts, 4, level,
                                 "cooldown" if excluded else None, "HK-0001"))
        presses_of.append(presses)
        record_batch(store.db, items)
        alerts.check_after_batch(store.db, items, RULE, T0 + 700 * MIN)
        if number in acknowledged_after:
            store.db.execute("UPDATE alerts SET acknowledged_at = ? "
                             "WHERE acknowledged_at IS NULL", [T0])
            store.db.conn.commit()
    got = [(r["first_at"], r["last_at"], r["ratings"], r["negative"])
           for r in store.db.query("SELECT * FROM alerts ORDER BY id")]
    store.close()
    assert got == naive_alerts(presses_of, acknowledged_after)
    return got


@pytest.mark.parametrize("seed", range(8))
def test_the_check_decides_every_window_as_detect_does(tmp_path, seed):
    rnd = random.Random(seed)
    # Bursts of mostly negative presses among calm stretches, some presses filtered.
    minutes = sorted(rnd.sample(range(600), 150))
    presses = [(m, rnd.choice((1, 1, 2, 4) if (m // 40) % 2 else (1, 3, 4, 4, 4)),
                rnd.random() < 0.1) for m in minutes]
    order = list(range(len(minutes)))
    rnd.shuffle(order[:40])  # some presses arrive late, in a later batch
    batches, at = [], 0
    while at < len(order):
        size = rnd.choice((1, 1, 3, 8, 20))
        batches.append([presses[i] for i in order[at:at + size]])
        at += size
    acknowledged_after = {n for n in range(len(batches)) if rnd.random() < 0.15}
    assert check_and_compare(tmp_path, batches, acknowledged_after), \
        "the data must raise alerts for the comparison to mean anything"


def test_after_acknowledgement_fresh_presses_raise_in_a_window_that_does_not_cross(tmp_path):
    # A burst raises; six calm presses arrive late inside it; the alert is acknowledged. Then
    # four fresh presses, half negative: the whole window (14 presses, 6 negative) does not
    # cross the threshold, but its fresh part (4, 2 negative) does, and raises.
    burst = [(m, 1, False) for m in range(4)]
    calm = [(m + 0.5, 4, False) for m in range(3)] + [(m + 0.25, 4, False) for m in range(3)]
    fresh = [(4, 1, False), (5, 1, False), (6, 4, False), (7, 4, False)]
    got = check_and_compare(tmp_path, [burst, calm, fresh], acknowledged_after={1})
    assert [(first - T0) // MIN for first, *_ in got] == [0, 4]
