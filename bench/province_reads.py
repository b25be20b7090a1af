"""Benchmark: province-year reads, as users make them, beside the same figures in plain SQL.

    python bench/province.py generate --db /tmp/province.db --scale 1.0
    python bench/province_reads.py --db /tmp/province.db [--runs 20] [--month YYYY-MM]

Runs the system as users run it: a Mosquitto broker (tests/mosquitto.py, the shipped
configuration) and `hailong serve` as its own process on the generated database; each read is
an HTTP request with the session of the account that makes it (an administrator of the whole
province, a department's head, a ward's head, an office's leader: bench/province_plan.py).
Beside each, in the same run and on the same file, the naive computation of its figures in
plain SQL (a read-only sqlite3 connection in this process: counts per level and officer, the
tasks and the workflow rows, the year's averages), the ceiling the read is measured against.

Measured (p50 and p95 of RUNS requests after 2 warm-ups; the month close: median of 3 runs):
- an officer's month: GET /api/v1/officers/{id}/months/{month} and its page /officers/{id};
- the 500-officer ward's month (its head's unit overview): GET /api/v1/units/{ward}/months/…;
- the unit's XLSX; the annual roll-up: GET /api/v1/units/{unit}/years/{year};
- every landing page ("/", the front page of each account) and GET /api/v1/overview;
- the month close that scores every officer: `hailong month report --month M --format json`
  over the whole tree (collector/cli/month.py, `unit_month` over every root unit).
Prints one line per read: p50 and p95 of the wall time, the server's CPU per request (from
/proc: steadier than wall time on a shared machine), the plain-SQL median with its CPU, and the
ratio of the medians; the month close: median, spread and CPU of the command. `--skip NAME`
leaves out the reads whose name starts so (e.g. `--skip landing-administrator --skip close`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import Mosquitto, free_port  # noqa: E402

from collector.core.periods import period_bounds  # noqa: E402
from collector.core.timeline import LOCAL_TZ  # noqa: E402

PASSWORD = "province-bench-2026"
ACCOUNTS = {"administrator": "quantri.tp", "department": "giamdoc.so01",
            "ward": "chutich.w001", "office": "truongphong.w001"}


# --- the naive computation in plain SQL --------------------------------------------------

SUBTREE = ("WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT u.id FROM units u "
           "JOIN sub ON u.parent_id = sub.id) ")


def naive_unit_month(conn: sqlite3.Connection, unit: str, month: str) -> dict:
    """A unit's month from raw rows: each officer's counted presses per level and filtered
    ones, their shifts' hours, their tasks by outcome, their workflow row."""
    start, end = period_bounds(month)
    first, last = month + "-01", month + "-32"
    people = conn.execute(SUBTREE + "SELECT o.id, o.name, o.unit_id FROM officers o "
                          "WHERE o.unit_id IN (SELECT id FROM sub)", [unit]).fetchall()
    presses = conn.execute(
        SUBTREE + "SELECT r.officer_id, r.level, r.excluded IS NOT NULL, count(*) FROM ratings r "
        "JOIN officers o ON o.id = r.officer_id WHERE o.unit_id IN (SELECT id FROM sub) "
        "AND r.pressed_at >= ? AND r.pressed_at < ? GROUP BY 1, 2, 3", [unit, start, end]
    ).fetchall()
    duty = conn.execute(
        SUBTREE + "SELECT s.officer_id, sum(min(coalesce(s.ends_at, ?), ?) - max(s.starts_at, ?)) "
        "FROM roster_shifts s JOIN officers o ON o.id = s.officer_id "
        "WHERE o.unit_id IN (SELECT id FROM sub) AND s.replaced_at IS NULL "
        "AND s.starts_at < ? AND coalesce(s.ends_at, ?) > ? GROUP BY 1",
        [unit, end, end, start, end, end, start]).fetchall()
    tasks = conn.execute(
        SUBTREE + "SELECT t.officer_id, count(*), sum(t.completed_on <= t.deadline), "
        "sum(t.completed_on > t.deadline), sum(t.completed_on IS NULL) FROM tasks t "
        "JOIN officers o ON o.id = t.officer_id WHERE o.unit_id IN (SELECT id FROM sub) "
        "AND t.deadline >= ? AND t.deadline < ? GROUP BY 1", [unit, first, last]).fetchall()
    workflow = conn.execute(
        SUBTREE + "SELECT e.officer_id, e.proposed_grade, e.final_grade, e.final_score, "
        "e.snapshot FROM evaluations e WHERE e.month = ? AND e.unit_id IN (SELECT id FROM sub)",
        [unit, month]).fetchall()
    return {"officers": len(people), "presses": len(presses), "duty": len(duty),
            "tasks": len(tasks), "workflow": len(workflow)}


def naive_officer_month(conn: sqlite3.Connection, officer: str, month: str) -> dict:
    start, end = period_bounds(month)
    return {
        "presses": conn.execute("SELECT level, excluded, count(*) FROM ratings WHERE "
                                "officer_id = ? AND pressed_at >= ? AND pressed_at < ? "
                                "GROUP BY 1, 2", [officer, start, end]).fetchall(),
        "shifts": conn.execute("SELECT counter_id, starts_at, ends_at FROM roster_shifts "
                               "WHERE officer_id = ? AND replaced_at IS NULL AND starts_at < ? "
                               "AND coalesce(ends_at, ?) > ?", [officer, end, end, start]
                               ).fetchall(),
        "tasks": conn.execute("SELECT * FROM tasks WHERE officer_id = ? AND deadline >= ? "
                              "AND deadline < ?", [officer, month + "-01", month + "-32"]
                              ).fetchall(),
        "workflow": conn.execute("SELECT * FROM evaluations WHERE officer_id = ? AND month = ?",
                                 [officer, month]).fetchall()}


def naive_landing(conn: sqlite3.Connection, unit: str, month: str) -> dict:
    """The front page's figures: the unit's month, and the unit's six months of ratings."""
    out = naive_unit_month(conn, unit, month)
    year, mon = int(month[:4]), int(month[5:])
    first = f"{year - (mon <= 5):04d}-{(mon - 6) % 12 + 1:02d}"
    start, end = period_bounds(first)[0], period_bounds(month)[1]
    out["trend"] = conn.execute(
        SUBTREE + "SELECT strftime('%Y-%m', r.pressed_at / 1000 + 25200, 'unixepoch'), r.level, "
        "count(*) FROM ratings r JOIN officers o ON o.id = r.officer_id "
        "WHERE o.unit_id IN (SELECT id FROM sub) AND r.pressed_at >= ? AND r.pressed_at < ? "
        "AND r.excluded IS NULL GROUP BY 1, 2", [unit, start, end]).fetchall()
    return out


def naive_year(conn: sqlite3.Connection, unit: str, year: int) -> dict:
    rows = conn.execute(
        SUBTREE + "SELECT e.officer_id, avg(e.final_score), count(*) FROM evaluations e "
        "JOIN officers o ON o.id = e.officer_id WHERE o.unit_id IN (SELECT id FROM sub) "
        "AND e.month >= ? AND e.month < ? AND e.final_grade IS NOT NULL GROUP BY 1",
        [unit, f"{year}-", f"{year + 1}-"]).fetchall()
    return {"officers": len(rows)}


# --- timing -------------------------------------------------------------------------------

def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(action, runs: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        action()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        out.append((time.perf_counter() - start) * 1000)
    return out


def cpu_ms(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc: what a request cost the
    server whatever else the shared machine was doing meanwhile."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def start_server(db: Path, broker: Mosquitto, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "collector.cli.main", "--log-level", "WARNING", "serve", "--db",
         str(db), "--broker", broker.url, "--http", f"127.0.0.1:{port}"],
        cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"hailong serve did not answer; see {log}")


def session(port: int, login: str) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "next": "/"})
    if answer.status_code >= 400:
        raise SystemExit(f"login {login}: {answer.status_code}")
    return client


def previous_month(now: datetime) -> str:
    return f"{now.year - (now.month == 1):04d}-{(now.month - 2) % 12 + 1:02d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--month", help="the month read (default: last month)")
    parser.add_argument("--close-runs", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[],
                        help="a read to leave out (e.g. close, year-root, landing-administrator)")
    args = parser.parse_args()
    now = datetime.now(LOCAL_TZ)
    month = args.month or previous_month(now)
    current = f"{now.year:04d}-{now.month:02d}"
    conn = sqlite3.connect(f"file:{args.db.resolve()}?mode=ro", uri=True)
    facts = dict(conn.execute("SELECT login, officer_id FROM users").fetchall())
    ward = conn.execute("SELECT unit_id FROM officers WHERE id = ?",
                        [facts[ACCOUNTS["ward"]]]).fetchone()[0]
    department = conn.execute("SELECT unit_id FROM officers WHERE id = ?",
                              [facts[ACCOUNTS["department"]]]).fetchone()[0]
    office = conn.execute("SELECT unit_id FROM officers WHERE id = ?",
                          [facts[ACCOUNTS["office"]]]).fetchone()[0]
    root = conn.execute("SELECT id FROM units WHERE parent_id IS NULL").fetchone()[0]
    size = conn.execute(SUBTREE + "SELECT count(*) FROM officers WHERE unit_id IN "
                        "(SELECT id FROM sub)", [ward]).fetchone()[0]
    officer = conn.execute(
        "SELECT officer_id FROM ratings WHERE officer_id IN (SELECT id FROM officers WHERE "
        "unit_id = ?) GROUP BY officer_id ORDER BY count(*) DESC LIMIT 1",
        [f"{ward}-1c"]).fetchone()[0]
    totals = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("officers", "units", "counters", "ratings", "tasks", "evaluations")}
    print(f"database {args.db} ({args.db.stat().st_size / 1e9:.2f} GB): "
          + ", ".join(f"{n:,} {t}" for t, n in totals.items()))
    print(f"month {month}; ward {ward} ({size} officers), department {department}, "
          f"office {office}, officer {officer}; {args.runs} runs")
    rows: list[tuple[str, float, float, float | None]] = []

    server_pid: list[int] = []

    def measure(name: str, request, naive=None, runs: int = args.runs) -> None:
        if any(name.startswith(s) for s in args.skip):
            return
        for _ in range(2):
            request()
        before = cpu_ms(server_pid[0])
        served = timed(request, runs, warm=0)
        cpu = (cpu_ms(server_pid[0]) - before) / runs
        start = time.process_time()
        naive_runs = max(3, runs // 4)
        base = statistics.median(timed(naive, naive_runs, warm=1)) if naive else None
        base_cpu = (time.process_time() - start) * 1000 / (naive_runs + 1)
        p50, p95 = percentiles(served)
        rows.append((name, p50, p95, cpu, base, base_cpu if naive else None))
        ratio = f"{p50 / base:7.2f}×" if base else ""
        print(f"{name:42} p50 {p50:8.1f} p95 {p95:8.1f} server CPU {cpu:7.1f} ms | plain SQL "
              f"{'' if base is None else f'{base:8.1f} (CPU {base_cpu:7.1f}) ms'} {ratio}",
              flush=True)

    broker = Mosquitto().start()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(args.db, broker, port, Path(folder) / "serve.log")
        server_pid.append(server.pid)
        try:
            clients = {role: session(port, login) for role, login in ACCOUNTS.items()}
            admin, head = clients["administrator"], clients["ward"]

            def get(client: httpx.Client, path: str):
                def call():
                    answer = client.get(path)
                    if answer.status_code != 200:
                        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
                    return answer
                return call

            measure("officer month (API)", get(head, f"/api/v1/officers/{officer}/months/{month}"),
                    lambda: naive_officer_month(conn, officer, month))
            measure("officer month (page)", get(head, f"/officers/{officer}?month={month}"),
                    lambda: naive_officer_month(conn, officer, month))
            measure(f"unit month, {size} officers (API)",
                    get(head, f"/api/v1/units/{ward}/months/{month}"),
                    lambda: naive_unit_month(conn, ward, month))
            measure("unit month XLSX", get(head, f"/api/v1/units/{ward}/months/{month}.xlsx"),
                    lambda: naive_unit_month(conn, ward, month), runs=max(5, args.runs // 2))
            measure(f"unit year {month[:4]}, {size} officers",
                    get(head, f"/api/v1/units/{ward}/years/{month[:4]}"),
                    lambda: naive_year(conn, ward, int(month[:4])), runs=max(5, args.runs // 2))
            measure(f"year-root {month[:4]}, {totals['officers']} officers",
                    get(admin, f"/api/v1/units/{root}/years/{month[:4]}"),
                    lambda: naive_year(conn, root, int(month[:4])), runs=3)
            for role, unit in (("office", office), ("ward", ward), ("department", department),
                               ("administrator", root)):
                client = clients[role]
                measure(f"landing-{role} / ({current})", get(client, "/"),
                        lambda u=unit: naive_landing(conn, u, current),
                        runs=args.runs if role != "administrator" else max(3, args.runs // 4))
                measure(f"landing-{role} /api/v1/overview", get(client, "/api/v1/overview"),
                        lambda u=unit: naive_landing(conn, u, current),
                        runs=args.runs if role != "administrator" else max(3, args.runs // 4))
            measure(f"landing-{'ward'} / ({month})", get(head, f"/?month={month}"),
                    lambda: naive_landing(conn, ward, month))
        finally:
            server.terminate()
            server.wait(30)
            broker.stop()
            broker.cleanup()
    if "close" not in args.skip:
        command = [sys.executable, "-m", "collector.cli.main", "month", "report", "--month",
                   month, "--db", str(args.db), "--format", "json", "--out", os.devnull]
        closes, cpus = [], []
        for _ in range(args.close_runs):
            start = time.perf_counter()
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            closes.append(time.perf_counter() - start)
            cpus.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
        base = statistics.median(timed(lambda: naive_unit_month(conn, root, month), 3, 1))
        print(f"{'month close, ' + str(totals['officers']) + ' officers':42} median "
              f"{statistics.median(closes):7.2f} s (min {min(closes):.2f}, max {max(closes):.2f};"
              f" CPU {statistics.median(cpus):.2f} s) | plain SQL {base / 1000:7.2f} s "
              f"{statistics.median(closes) * 1000 / base:7.2f}×", flush=True)
        rows.append(("month close", statistics.median(closes) * 1000, max(closes) * 1000,
                     statistics.median(cpus) * 1000, base, None))
    print(json.dumps({"month": month, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
