"""Benchmark: time to build a unit's month (collector.evaluation.month.unit_month) in SQLite.

The unit: 40 officers at 20 counters of one one-stop section (two shifts a day per counter,
08:00–12:00 and 13:00–17:00, each officer on one of them), 30 ratings a day per officer for
the 30 working days of March 2026 (36,000 ratings, one press per shift filtered as cooldown),
each device online with one 20-minute gap a day (1,200 online spans), 10 tasks per officer
with some errors and late completions, and every officer's workflow row (self-evaluation and
review). The fixture rows are inserted directly (one transaction) so the build is quick; the
reads are the real ones: a fresh read-only connection, `unit_month` over the unit, then the
XLSX export.

Measures: the first call on a fresh connection (cold page cache inside SQLite, warm OS cache)
and the median of RUNS further calls; `officer_month` for one officer; the XLSX export.

Run: python3 bench/monthly_report.py [RUNS]
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.evaluation import export_xlsx, month as monthly
from collector.db import reader  # noqa: E402
from collector.evaluation.policy import load_preset  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit  # noqa: E402
from collector.org.registry import register_device  # noqa: E402
from collector.core.timeline import LOCAL_TZ  # noqa: E402

OFFICERS, COUNTERS, DAYS, PER_DAY, TASKS = 40, 20, 30, 30, 10
MONTH, TODAY = "2026-03", date(2026, 4, 10)
MINUTE = 60_000


def at(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 3, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


def build(path: Path) -> None:
    store = Store(path)
    db = store.db
    upsert_unit(db, "w", "UBND phường Mẫu", None)
    upsert_unit(db, "w-1c", "Bộ phận Một cửa phường Mẫu", "w")
    upsert_officer(db, "L", "Lãnh đạo", "Trưởng bộ phận", "w")
    officers = [f"O-{i:03d}" for i in range(OFFICERS)]
    for code in officers:
        upsert_officer(db, code, f"Cán bộ {code}", "Chuyên viên", "w-1c", leader_id="L")
    for c in range(COUNTERS):
        upsert_counter(db, f"q{c}", f"Quầy {c + 1}", "w-1c")
        register_device(db, f"d{c}", f"q{c}", at=at(1, 0) - 86_400_000)
    shifts, spans, ratings = [], [], []
    for day in range(1, DAYS + 1):
        for c in range(COUNTERS):
            for half, (start_h, end_h) in enumerate(((8, 12), (13, 17))):
                officer = officers[(2 * c + half + day) % OFFICERS]
                start, end = at(day, start_h), at(day, end_h)
                shifts.append((f"q{c}", officer, start, end, start, "bench"))
                for i in range(PER_DAY):  # each officer works one shift a day
                    pressed = start + (i * 8 + c % 7) * MINUTE
                    ratings.append((f"d{c}:{day}:{half * 100 + i}", f"d{c}", day,
                                    half * 100 + i, 1 + (i * 7 + c) % 4, 4, officer, officer,
                                    "roster", pressed, "device", pressed + 500, "0.1.0",
                                    "cooldown" if i % 50 == 7 else None))
            gap = at(day, 10, c % 30)
            spans.append((f"d{c}", at(day, 7, 50), gap - MINUTE, gap))
            spans.append((f"d{c}", gap + 20 * MINUTE, at(day, 17, 9), at(day, 17, 10)))
    with db.atomic():
        db.conn.executemany("INSERT INTO roster_shifts (counter_id, officer_id, starts_at, "
                            "ends_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)", shifts)
        db.conn.executemany("INSERT INTO device_online_spans (device_id, starts_at, "
                            "last_seen_at, ended_at) VALUES (?, ?, ?, ?)", spans)
        db.conn.executemany(
            "INSERT INTO ratings (id, device_id, boot, seq, level, scale, officer_shown, "
            "officer_id, attribution, pressed_at, time_source, received_at, fw, excluded) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ratings)
        for n, code in enumerate(officers):
            for t in range(TASKS):
                deadline = f"2026-03-{3 * t + 1:02d}"
                done = None if t == 9 and n % 3 == 0 else f"2026-03-{3 * t + 1 + (t % 4 == 0):02d}"
                task = db.execute(
                    "INSERT INTO tasks (officer_id, title, assigned_by, period, deadline, "
                    "weight, progress, completed_on, created_at, updated_at) VALUES "
                    "(?, ?, 'L', 'month', ?, ?, ?, ?, 0, 0)",
                    [code, f"Nhiệm vụ {t}", deadline, 1 + t % 3, 100 if done else 50,
                     done]).lastrowid
                if t == 2:
                    db.execute("INSERT INTO task_flags (task_id, kind, reason, actor, at) "
                               "VALUES (?, 'major_error', 'bench', 'L', 0)", [task])
            scores = {"discipline_ethics": 17 + n % 4, "bonus": n % 7}
            db.execute("INSERT INTO evaluations (officer_id, month, self_scores, self_at, "
                       "review_scores, proposed_grade, reviewed_by, reviewed_at, updated_at) "
                       "VALUES (?, ?, ?, 1, ?, ?, 'L', 2, 2)",
                       [code, MONTH, json.dumps(scores), json.dumps(scores),
                        "HTXSNV" if n % 3 == 0 else "HTTNV"])
    store.close()
    print(f"built: {OFFICERS} officers, {len(ratings):,} ratings, {len(shifts):,} shifts, "
          f"{len(spans):,} online spans, {OFFICERS * TASKS} tasks; "
          f"{path.stat().st_size / 1e6:.1f} MB")


CPU: list[float] = []  # process CPU ms of each timed call: steadier than wall time on a
#                         machine shared with other work


def timed(action) -> tuple[float, object]:
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    CPU.append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - start) * 1000, result


def main(runs: int) -> None:
    policy = load_preset("hanoi-3814")
    now = at(30, 18) + 11 * 86_400_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        build(path)
        db = reader.open_reader(path)
        cold, report = timed(lambda: monthly.unit_month(db, "w", MONTH, policy, now_ms=now,
                                                        today=TODAY))
        CPU.clear()
        warm = [timed(lambda: monthly.unit_month(db, "w", MONTH, policy, now_ms=now,
                                                 today=TODAY))[0] for _ in range(runs)]
        warm_cpu = list(CPU)
        one = [timed(lambda: monthly.officer_month(db, "O-007", MONTH, policy, now_ms=now,
                                                   today=TODAY))[0] for _ in range(runs)]
        xlsx = [timed(lambda: export_xlsx.unit_month_xlsx(report, io.BytesIO()))[0]
                for _ in range(runs)]
        db.conn.close()
    row = next(r for r in report["officers"] if r["officer_id"] == "O-007")
    assert len(report["officers"]) == OFFICERS + 1 and row["satisfaction"]["ratings"] > 600
    print(f"check: O-007 {row['satisfaction']['ratings']} ratings, coverage "
          f"{row['coverage']['share']}, suggested {row['suggested_score']}")
    print(f"unit_month, {OFFICERS + 1} officers: first call {cold:.0f} ms; "
          f"median of {runs} {statistics.median(warm):.0f} ms (min {min(warm):.0f}, "
          f"max {max(warm):.0f}); CPU median {statistics.median(warm_cpu):.0f} ms")
    print(f"officer_month (with its unit's comparison): median {statistics.median(one):.0f} ms")
    print(f"unit_month_xlsx: median {statistics.median(xlsx):.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
