"""Debounce, press on release, long press at the threshold, ring overflow counted."""

from kiosk.buttons import ButtonTracker, EdgeRing


def tracker(**options):
    events = []
    t = ButtonTracker(4, lambda i, at: events.append(("press", i, at)),
                      lambda i, at: events.append(("long", i, at)), **options)
    return t, events


def test_a_clean_press_is_reported_on_release_with_its_down_time():
    t, events = tracker()
    t.edge(2, 0, 1000)
    t.tick(1050)
    assert events == []
    t.edge(2, 1, 1120)
    assert events == [("press", 2, 1000)]


def test_contact_bounce_is_ignored_and_counted():
    t, events = tracker(debounce_ms=30)
    for at, value in ((1000, 0), (1003, 1), (1006, 0), (1010, 1), (1015, 0)):
        t.edge(0, value, at)
    t.edge(0, 1, 1200)
    assert events == [("press", 0, 1000)] and t.bounces == 4


def test_a_hold_opens_the_technician_screen_once_and_leaves_no_press():
    t, events = tracker(long_ms=3000)
    t.edge(1, 0, 0)
    t.tick(2999)
    t.tick(3000)
    t.tick(4000)
    t.edge(1, 1, 5000)
    assert events == [("long", 1, 3000)]


def test_buttons_are_independent_and_unknown_indexes_ignored():
    t, events = tracker()
    t.edge(0, 0, 0)
    t.edge(3, 0, 10)
    t.edge(9, 0, 10)
    t.edge(3, 1, 100)
    t.edge(0, 1, 200)
    assert events == [("press", 3, 10), ("press", 0, 0)]


def test_ring_keeps_edges_in_order_and_counts_overflow():
    ring = EdgeRing(size=4)
    for n in range(5):
        ring.push(n, n % 2, n * 10)
    seen = []
    ring.drain(lambda i, v, at: seen.append((i, v, at)))
    assert seen == [(0, 0, 0), (1, 1, 10), (2, 0, 20)] and ring.overflow == 2
    ring.push(7, 0, 70)
    ring.drain(lambda i, v, at: seen.append((i, v, at)))
    assert seen[-1] == (7, 0, 70)
