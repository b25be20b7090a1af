"""The ingest folds what it stores into the month counts in the same transaction (issue 13).

collector/ratings/month_counts.py keeps each officer's presses per local month; reads add the
tail above `rating_months_state.through` from `ratings` itself, so the figures are exact
either way — but a tail that is never folded grows until every read groups raw presses. The
writers that store ratings fold them as they commit.
"""

from collector.core.timeline import month_bounds
from collector.db.store import Store
from collector.ingest.recording import add_past_ratings
from collector.org.organisation import upsert_officer, upsert_unit

MARCH = month_bounds("2026-03")[0]
HOUR = 3_600_000


def past(i: int, officer: str, level: int, pressed: int) -> tuple:
    return (f"d1:1:{i}", "d1", 1, i, level, 4, officer, officer, "roster", None, pressed,
            pressed, "device", pressed, "1.4.2", None, None, None)


def test_ratings_stored_in_bulk_are_folded_as_they_commit(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward")
        upsert_officer(store.db, "HK-A", "Nguyễn Thị Thu Hường", "Chuyên viên", "hk")
        # Two presses in March at level 4, one at level 1; one on 1 April 00:30 local time.
        add_past_ratings(store.db, [past(1, "HK-A", 4, MARCH + 9 * HOUR),
                                    past(2, "HK-A", 4, MARCH + 10 * HOUR),
                                    past(3, "HK-A", 1, MARCH + 11 * HOUR),
                                    past(4, "HK-A", 4, month_bounds("2026-04")[0] + HOUR // 2)])
        last = store.db.execute("SELECT MAX(rowid) FROM ratings").fetchone()[0]
        assert store.db.execute("SELECT through FROM rating_months_state").fetchone()[0] == last
        counts = store.db.execute("SELECT month, level, n FROM rating_months "
                                  "WHERE officer_id = 'HK-A' ORDER BY month, level").fetchall()
        assert counts == [("2026-03", 1, 1), ("2026-03", 4, 2), ("2026-04", 4, 1)]
    finally:
        store.close()
