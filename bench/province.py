"""A synthetic province-year for the read benchmarks (issue 13, item 3).

    python bench/province.py generate --db FILE [--scale 1.0] [--seed 13] [--policy hanoi-3814]

At scale 1.0: the unit tree of bench/province_plan.py (3,351 units, about 150,000 officers,
3,000 counters with a device each), a duty roster of two half-day shifts per counter on
working days and Saturday mornings, about 24 million ratings over the months from January of
the current year to now, about 1.8 million task records and every officer's workflow rows:
the months before last decided (with the frozen snapshot), last month reviewed and partly
decided, the current month open. `--scale 0.05` makes a small one for tests (about 8,000
officers and 1.2 million ratings).

Writing 24 million ratings through the MQTT ingest would take hours, so the rows are written
in bulk SQL: the SAME rows the ingest and the domain writers write — `ratings` with every
column collector/ingest/recording.py fills (placed in time from the device's clock, attributed
as collector/roster/attribution.py `attribute` decides: the officer the roster has on duty at
the device's counter, else the officer the device showed, "device", else "none"),
`device_online_spans` one row per online stretch as the ingest keeps them, `ingest_receiving`
with a collector outage, `roster_shifts`, `device_placements`, tasks with their updates and
flags, `evaluations` with their events. The snapshot a decision freezes is the officer-month
collector/evaluation/month.py computes at generation time (the fields snapshot_changes
compares; the workflow's own holds the whole officer-month, so the stored size understates a
real year's). The shape: ratings in working hours (8–12 and 13–17, Mon–Fri; Saturday 8–12),
a morning peak, a lunch dip with a few presses after the counter closed (attributed to
nobody), Mondays busiest; a device off for a day now and then, whose presses arrive the next
morning (late ratings); a shift missing from the roster now and then (attributed "device").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from province_plan import Province, Shape, plan  # noqa: E402

from collector.accounts.users import AccountService  # noqa: E402
from collector.core.timeline import LOCAL_TZ  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.evaluation.policy import Policy, load_configured  # noqa: E402
from collector.ratings import month_counts  # noqa: E402

DAY, HOUR, MINUTE = 86_400_000, 3_600_000, 60_000
PASSWORD = "province-bench-2026"
# Presses per counter on an ordinary day, before the weekday's factor: 24 M a year at 3,000
# counters.
PER_DAY = 27.7
WEEKDAY = (1.15, 1.05, 1.0, 1.0, 0.9, 0.45, 0.0)  # Monday … Sunday (Saturday: morning only)
HOURS = {8: 0.09, 9: 0.16, 10: 0.17, 11: 0.12, 13: 0.08, 14: 0.14, 15: 0.14, 16: 0.10}
SATURDAY_HOURS = {8: 0.2, 9: 0.35, 10: 0.3, 11: 0.15}
HALVES = ((8, 12), (13, 17))
REASONS = ("attitude", "waiting", "guidance", "other")


def local_ms(day: date, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)
               .timestamp() * 1000)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _bulk(db, sql: str, rows) -> int:
    rows = list(rows)
    db.conn.executemany(sql, rows)
    return len(rows)


def write_organisation(store: Store, province: Province, start: int) -> None:
    db = store.db
    with db.conn:
        _bulk(db, "INSERT INTO units (id, name, parent_id, kind, outstanding) VALUES "
                  "(?, ?, ?, ?, ?)", [(u.id, u.name, u.parent_id, u.kind, u.outstanding)
                                      for u in province.units])
        _bulk(db, "INSERT INTO officers (id, name, title, unit_id, leader_id, post_group) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
              [(o.id, o.name, o.title, o.unit_id, o.leader_id, o.post_group)
               for o in province.officers])
        _bulk(db, "UPDATE units SET head_id = ? WHERE id = ?",
              [(u.head_id, u.id) for u in province.units])
        _bulk(db, "INSERT INTO counters (id, label, unit_id) VALUES (?, ?, ?)",
              [(c.id, c.label, c.unit_id) for c in province.counters])
        # counter_units (kept by the schema's trigger) starts at 0 already.
        _bulk(db, "INSERT INTO devices (id, counter_id, scale, registered_at) VALUES "
                  "(?, ?, 4, ?)", [(f"kiosk-{c.id}", c.id, start - 30 * DAY)
                                   for c in province.counters])
        _bulk(db, "INSERT INTO device_placements (device_id, counter_id, starts_at) VALUES "
                  "(?, ?, ?)", [(f"kiosk-{c.id}", c.id, start - 30 * DAY)
                                for c in province.counters])
    service = AccountService(store, actor="bench")
    for role, login, officer, unit in province.accounts:
        service.add(login, name=f"Benchmark {role}", role=role, password=PASSWORD,
                    officer_id=officer, unit_id=None)


def write_year(store: Store, province: Province, first: date, now: int,
               rng: random.Random) -> dict[str, int]:
    """Roster, online spans and ratings, day by day; returns counts."""
    db = store.db
    counts = {"shifts": 0, "spans": 0, "ratings": 0}
    skill = {o.id: o.skill for o in province.officers if o.counter}
    today = datetime.fromtimestamp(now / 1000, LOCAL_TZ).date()
    columns = ("id, device_id, boot, seq, level, scale, officer_shown, officer_id, attribution, "
               "uptime_ms, device_ts, pressed_at, time_source, received_at, fw, reason, "
               "dossier, excluded")
    insert = f"INSERT INTO ratings ({columns}) VALUES ({', '.join('?' * 18)})"
    day = first
    while day <= today:
        weekday = day.weekday()
        shifts, spans, ratings = [], [], []
        if WEEKDAY[weekday]:
            week = (day - first).days // 7
            boot = (day - first).days + 1
            halves = HALVES[:1] if weekday == 5 else HALVES
            weights = SATURDAY_HOURS if weekday == 5 else HOURS
            for c_index, counter in enumerate(province.counters):
                device = f"kiosk-{counter.id}"
                pool, n_pool = counter.pool, len(counter.pool)
                c = int(counter.id.rsplit("q", 1)[1]) - 1
                on = local_ms(day, 7, 45 + rng.randint(0, 10))
                close = local_ms(day, 12 if weekday == 5 else 17, 10)
                dead = rng.random() < 0.003  # off all day: presses come next morning
                gap = None
                if not dead and rng.random() < 0.03:
                    g0 = local_ms(day, rng.choice((9, 10, 14, 15)), rng.randint(0, 40))
                    gap = (g0, g0 + rng.randint(20, 90) * MINUTE)
                if not dead and on < now:
                    parts = [(on, gap[0]), (gap[1], close)] if gap else [(on, close)]
                    for s, e in parts:
                        if s >= now:
                            continue
                        if e > now:  # still online as the generator runs
                            spans.append((device, s, now, None))
                        else:
                            spans.append((device, s, e, e))
                seq = 0
                for h, (h0, h1) in enumerate(halves):
                    officer = pool[(2 * c + h + 2 * week) % n_pool]
                    s_at, e_at = local_ms(day, h0), local_ms(day, h1)
                    in_roster = rng.random() >= 0.003
                    if in_roster:
                        shifts.append((counter.id, officer, s_at, e_at, s_at - 7 * DAY,
                                       "import"))
                    p_good = skill[officer]
                    for hour in range(h0, h1):
                        mean = PER_DAY * WEEKDAY[weekday] * weights.get(hour, 0)
                        n = int(mean + rng.random() * 2 - 0.5) if mean else 0
                        for _ in range(max(0, n)):
                            pressed = local_ms(day, hour) + rng.randint(0, HOUR - 1)
                            if pressed >= now:
                                continue
                            seq += 1
                            ratings.append(_press(rng, device, boot, seq, pressed, on, officer,
                                                  in_roster, p_good, dead, gap, day))
                # Stragglers after the counter closed: the screen is blank, nobody's rating.
                for hour in ((12, 17) if weekday != 5 else (12,)):
                    if rng.random() < 0.3:
                        pressed = local_ms(day, hour, rng.randint(0, 9))
                        if pressed < now:
                            seq += 1
                            ratings.append(_press(rng, device, boot, seq, pressed, on, None,
                                                  False, 0.8, dead, gap, day))
        with db.conn:
            counts["shifts"] += _bulk(db, "INSERT INTO roster_shifts (counter_id, officer_id, "
                                          "starts_at, ends_at, created_at, created_by) VALUES "
                                          "(?, ?, ?, ?, ?, ?)", shifts)
            counts["spans"] += _bulk(db, "INSERT INTO device_online_spans (device_id, "
                                         "starts_at, last_seen_at, ended_at) VALUES "
                                         "(?, ?, ?, ?)", spans)
            counts["ratings"] += _bulk(db, insert, ratings)
        day += timedelta(days=1)
    return counts


def _press(rng: random.Random, device: str, boot: int, seq: int, pressed: int, on: int,
           officer: str | None, in_roster: bool, p_good: float, dead: bool, gap, day) -> tuple:
    """One stored rating as the ingest stores it (recording.py `_record_rating`)."""
    u = rng.random()
    if u < p_good * 0.62:
        level = 4
    elif u < p_good:
        level = 3
    elif u < p_good + (1 - p_good) * 0.6:
        level = 2
    else:
        level = 1
    excluded = "cooldown" if rng.random() < 0.02 else (
        "no_session" if officer is None and rng.random() < 0.5 else None)
    reason = rng.choice(REASONS) if level == 1 and rng.random() < 0.7 else None
    received = pressed + rng.randint(200, 1500)
    if dead:  # queued on the device, sent when it is back the next morning
        received = local_ms(day + timedelta(days=1), 7, 50) + seq * 50
    elif gap and gap[0] <= pressed < gap[1]:
        received = gap[1] + seq * 50
    if officer is None:
        who, how = None, "none"
    else:
        who, how = officer, ("roster" if in_roster else "device")
    return (f"{device}:{boot}:{seq}", device, boot, seq, level, 4,
            officer, who, how, pressed - on, pressed, pressed, "device", received,
            "1.4.2", reason, None, excluded)


def write_tasks(store: Store, province: Province, months: list[str], today: date,
                rng: random.Random) -> int:
    """About one task per officer-month (1.8 M a year at 150,000 officers), each with its
    completion update, a few with a major error or an excused delay."""
    db = store.db
    n = 0
    leaders = {o.id: o.leader_id or o.id for o in province.officers}
    for month in months:
        year, mon = int(month[:4]), int(month[5:])
        last = (date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)).day
        tasks, flags = [], []
        for officer in province.officers:
            for _ in range(rng.choice((0, 1, 1, 1, 2))):
                deadline = date(year, mon, rng.randint(1, last))
                created = local_ms(deadline - timedelta(days=20), 9)
                u = rng.random()
                done = None
                if deadline <= today or u < 0.3:
                    if u < 0.8:
                        done = deadline - timedelta(days=rng.randint(0, 6))
                    elif u < 0.93:
                        done = deadline + timedelta(days=rng.randint(1, 6))
                if done is not None and done > today:
                    done = None
                progress = 100 if done else rng.choice((30, 50, 70, 90))
                tasks.append((officer.id, f"Nhiệm vụ tháng {mon}/{year}", leaders[officer.id],
                              deadline.isoformat(), rng.choice((1, 1, 1, 2, 0.5)), progress,
                              None if done is None else done.isoformat(), created, created))
        with db.conn:
            first_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()[0]) + 1
            _bulk(db, "INSERT INTO tasks (officer_id, title, assigned_by, period, deadline, "
                      "weight, progress, completed_on, created_at, updated_at) VALUES "
                      "(?, ?, ?, 'month', ?, ?, ?, ?, ?, ?)", tasks)
            updates = [(first_id + i, t[7] + DAY, t[0], t[5], None, t[6])
                       for i, t in enumerate(tasks)]
            _bulk(db, "INSERT INTO task_updates (task_id, at, actor, progress, note, "
                      "completed_on) VALUES (?, ?, ?, ?, ?, ?)", updates)
            for i, t in enumerate(tasks):
                if rng.random() < 0.02:
                    flags.append((first_id + i, "major_error", "Sai sót hồ sơ", t[2], t[7]))
                elif t[6] and t[6] > t[3] and rng.random() < 0.3:
                    flags.append((first_id + i, "delay_excused", "Chờ ý kiến cơ quan khác",
                                  t[2], t[7]))
            _bulk(db, "INSERT INTO task_flags (task_id, kind, reason, actor, at) VALUES "
                      "(?, ?, ?, ?, ?)", flags)
        n += len(tasks)
    return n


def _deciding(province: Province):
    """officer → (deciding unit, its head): the nearest unit up from the officer's own whose
    head is someone else (collector/accounts/permissions.py `officer_facts`)."""
    units = {u.id: u for u in province.units}
    out = {}
    for o in province.officers:
        unit = units.get(o.unit_id)
        while unit is not None and (unit.head_id is None or unit.head_id == o.id):
            unit = units.get(unit.parent_id)
        out[o.id] = (unit.id, unit.head_id) if unit else (None, None)
    return out


def write_evaluations(store: Store, province: Province, policy: Policy, months: list[str],
                      decided: set[str], partly: str | None, now: int, today: date,
                      rng: random.Random) -> dict[str, int]:
    """Self-evaluations and reviews for every month but the current one; decisions (with the
    snapshot of the officer-month computed now) for `decided` months and 40 % of `partly`."""
    from collector.evaluation import month as monthly
    from collector.evaluation.rules.decision import follow_grade
    db = store.db
    facts = _deciding(province)
    leader_scored = [c for c in policy.criteria if c.source == "leader"]
    grades = [code for code, _ in policy.bands]
    tops = [u.id for u in province.units if u.parent_id == province.root]
    counts = {"evaluations": 0, "decided": 0, "events": 0}
    for month in months:
        year, mon = int(month[:4]), int(month[5:])
        after = date(year + mon // 12, mon % 12 + 1, 1)
        self_at = local_ms(after, 9) - 5 * DAY
        reviewed_at = local_ms(after + timedelta(days=2), 10)
        rows, events = [], []
        for o in province.officers:
            unit, head = facts[o.id]
            if head is None:
                continue  # the city's chairman: evaluated outside hailong
            scores = {c.code: round(c.points * rng.uniform(0.7, 1.0) * 2) / 2
                      for c in leader_scored}
            reviewer = o.leader_id or head
            rows.append((o.id, month, json.dumps(scores), self_at, json.dumps(scores),
                         reviewer, reviewed_at, reviewed_at, o.unit_id, unit, o.post_group))
            events.append((o.id, month, "self", o.id, self_at, json.dumps({"scores": scores})))
            events.append((o.id, month, "review", reviewer, reviewed_at,
                           json.dumps({"scores": scores})))
        with db.conn:
            counts["evaluations"] += _bulk(
                db, "INSERT INTO evaluations (officer_id, month, self_scores, self_at, "
                    "review_scores, reviewed_by, reviewed_at, updated_at, unit_id, "
                    "deciding_unit_id, post_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows)
            counts["events"] += _bulk(db, "INSERT INTO evaluation_events (officer_id, month, "
                                          "step, actor, at, data) VALUES (?, ?, ?, ?, ?, ?)",
                                      events)
        if month not in decided and month != partly:
            continue
        # The leader proposes what the evidence suggests (mostly), the head decides.
        reports = [monthly.unit_month(db, top, month, policy, now_ms=now, today=today)
                   for top in tops]
        suggested = {r["officer_id"]: r for report in reports for r in report["officers"]}
        updates, events = [], []
        for officer_id, r in suggested.items():
            unit, head = facts[officer_id]
            grade = (r["suggested_grade"] or {}).get("code")
            if head is None or grade is None or r["suggested_score"] is None:
                continue
            if rng.random() < 0.15:
                grade = grades[min(len(grades) - 1, max(0, grades.index(grade)
                                                        + rng.choice((-1, 1))))]
            proposed = grade
            final = proposed if rng.random() < 0.95 else grades[min(len(grades) - 1,
                                                                    grades.index(proposed) + 1)]
            if month == partly and rng.random() >= 0.4:
                updates.append((proposed, None, None, None, None, None, officer_id, month))
                continue
            score = follow_grade(policy.decision, r["suggested_score"], final,
                                 bands=policy.bands, max_score=policy.max_score,
                                 decimals=policy.decimals).score
            decided_at = local_ms(after + timedelta(days=rng.randint(4, 6)), 15)
            snapshot = {"satisfaction": {"total": r["satisfaction"]["ratings"],
                                         "index": r["satisfaction"]["index"],
                                         "share_satisfied": r["satisfaction"]["share_satisfied"],
                                         "sufficient": r["satisfaction"]["sufficient"],
                                         "filtered": {"total": r["satisfaction"]["filtered"]},
                                         "coverage": r["coverage"],
                                         "insufficient_reason": r["insufficient_reason"]},
                        "tasks": {"summary": r["tasks"], "percentages": r["tasks"]},
                        "suggestion": {"score": r["suggested_score"],
                                       "grade": r["suggested_grade"]}}
            updates.append((proposed, final, score, head, decided_at, json.dumps(snapshot),
                            officer_id, month))
            events.append((officer_id, month, "decision", head, decided_at,
                           json.dumps({"final_grade": final, "final_score": score})))
        with db.conn:
            _bulk(db, "UPDATE evaluations SET proposed_grade = ?, final_grade = ?, "
                      "final_score = ?, decided_by = ?, decided_at = ?, snapshot = ? "
                      "WHERE officer_id = ? AND month = ?", updates)
            counts["events"] += _bulk(db, "INSERT INTO evaluation_events (officer_id, month, "
                                          "step, actor, at, data) VALUES "
                                          "(?, ?, ?, ?, ?, ?)", events)
        counts["decided"] += len(events)
    return counts


_BULK_TABLES = ("ratings", "roster_shifts", "device_online_spans", "tasks", "task_updates",
                "task_flags", "evaluations", "evaluation_events")


def _drop_indexes(db) -> list[str]:
    """The bulk tables' indexes (their CREATE statements), dropped for the load: rebuilding
    an index once is much cheaper than keeping it through millions of inserts."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql "
                      f"IS NOT NULL AND tbl_name IN ({', '.join('?' * len(_BULK_TABLES))})",
                      list(_BULK_TABLES)).fetchall()
    for name, _ in rows:
        db.execute(f"DROP INDEX [{name}]")
    return [sql for _, sql in rows]


def generate(path: Path, scale: float, seed: int = 13, policy_name: str = "hanoi-3814",
             now: int | None = None, *, first: date | None = None,
             shape: Shape = Shape()) -> dict[str, object]:
    """Write the province-year into a new database at `path`: from `first` (default: 1
    January of the current year) to `now` (unix ms, default: now)."""
    started = time.perf_counter()
    policy = load_configured(policy_name)
    now = int(time.time() * 1000) if now is None else now
    today = datetime.fromtimestamp(now / 1000, LOCAL_TZ).date()
    first = date(today.year, 1, 1) if first is None else first
    rng = random.Random(seed)
    province = plan(scale, seed, shape)
    store = Store(path)
    db = store.db
    db.conn.execute("PRAGMA synchronous = OFF")
    db.conn.execute("PRAGMA cache_size = -1000000")
    write_organisation(store, province, local_ms(first))
    indexes = _drop_indexes(db)
    counts = write_year(store, province, first, now, rng)
    months = sorted({month_key(first + timedelta(days=d))
                     for d in range((today - first).days + 1)})
    counts["tasks"] = write_tasks(store, province, months, today, rng)
    loaded = time.perf_counter()
    for sql in indexes:
        db.execute(sql)
    # What the ingest does in each batch's transaction: fold the new ratings into the month
    # counts (collector/ratings/month_counts.py).
    with db.conn:
        month_counts.fold(db)
    previous, current = (months[-2] if len(months) > 1 else None), months[-1]
    counts.update(write_evaluations(store, province, policy, [m for m in months if m != current],
                                    {m for m in months[:-2]}, previous, now, today, rng))
    with db.conn:
        # The past raises no alert (as the demo's history): detection starts after it.
        db.execute("UPDATE alert_progress SET checked_through = (SELECT COALESCE(MAX(rowid), 0) "
                   "FROM ratings), offline_through = ?", [now])
        # The collector received all year but for one afternoon (an upgrade, say).
        outage = local_ms(first + (today - first) / 3, 14)
        db.conn.executemany("INSERT INTO ingest_receiving (client_id, started_at, "
                            "last_alive_at, ended_at) VALUES ('hailong-collector', ?, ?, ?)",
                            [(local_ms(first) - DAY, outage, outage),
                             (outage + 2 * HOUR, now, now)])
    store.close()
    return {"scale": scale, "units": len(province.units), "officers": len(province.officers),
            "counters": len(province.counters), **counts,
            "bulk_s": round(loaded - started, 1),
            "seconds": round(time.perf_counter() - started, 1),
            "size_mb": round(path.stat().st_size / 1e6, 1), "accounts": province.accounts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a synthetic province-year")
    gen.add_argument("--db", type=Path, required=True)
    gen.add_argument("--scale", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=13)
    gen.add_argument("--policy", default="hanoi-3814")
    args = parser.parse_args(argv)
    if args.db.exists():
        parser.error(f"{args.db} exists: the generator writes a new database")
    result = generate(args.db, args.scale, args.seed, args.policy)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
