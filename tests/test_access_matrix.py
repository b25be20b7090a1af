"""The role × route × own-unit/other-unit matrix, generated from the app's route table.

Every operation the app serves (collector/web/access.py must name each: tests/test_access.py) is
called as each role — administrator and technician scoped to Hoàn Kiếm, its head, the
section's leader and one of its officers — once against Hoàn Kiếm's own unit, officer,
device, counter, task, alert and shift ("own") and once against Ba Đình's ("other"); writes
too, with minimal bodies, and writes on one's own records that name the other unit in their
body ("cross"). Expected:

- a role the table does not list: 403;
- the other unit, or a body naming it: 403 or 404 (listings without a target: filtered);
- otherwise: neither 401 nor 403, nor 404 for a read, nor a server error — except the finer
  refusals listed in FINER, each with its reason (who among the people may act is
  collector/accounts/permissions.py's to decide, not the table's);
- in every body, whatever the status (JSON, HTML, XLSX cells, headers): no Ba Đình unit,
  officer, counter or device id and no Ba Đình name.

Reads run before writes, and withdrawing a shift last, so one request does not change what
the next one is judged on. Figures (cells checked) are printed with `-s`.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections import Counter
from datetime import datetime, timedelta

import openpyxl
import pytest
from accounts_support import token_headers
from app_routes import all_routes
from factories import incoming, rating_bytes
from fastapi.testclient import TestClient

from collector.web import access
from collector.ratings import alerts
from collector.app import create_app
from collector.evaluation.policy import load_preset
from collector.demo.seed import OFFICERS, UNITS, seed_demo
from collector.core.settings import Settings
from collector.db.store import Store, now_ms
from collector.evaluation.tasks import TaskService
from collector.core.timeline import LOCAL_TZ
from collector.ingest.recording import record_batch

ROLES = {  # role: (login, officer record, unit scope)
    "administrator": ("quantri.hk", None, "hk"),
    "technician": ("kythuat.hk", None, "hk"),
    "head": ("chutich.hk", "HK-0100", None),
    "leader": ("lanhdao.hk", "HK-0101", None),
    "officer": ("canbo.hk1", "HK-0001", None),
}
TODAY = datetime.now(LOCAL_TZ).date()
MONTH = TODAY.strftime("%Y-%m")
LAST_MONTH = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

# --- what must never show: Ba Đình ------------------------------------------------------------

OTHER_UNITS = {u[0] for u in UNITS if u[0] == "bd" or u[2] == "bd"}
OTHER_OFFICERS = [o for o in OFFICERS if o[3] in OTHER_UNITS]
OTHER_IDS = re.compile(r"(?<![\w.-])(bd|bd-1c|bd-q\d|kiosk-bd-\d\d|BD-\d{4})(?![\w-])")
OTHER_NAMES = ["Ba Đình"] + [o[1] for o in OTHER_OFFICERS]


def leaks(text: str, asked: str) -> list[str]:
    """Ba Đình's ids and names in `text`, but for the ids the caller itself wrote in the
    request (`asked`: its URL and body), which a refusal or a link may repeat."""
    echoed = set(OTHER_IDS.findall(asked))
    found = [token for token in OTHER_IDS.findall(text) if token not in echoed]
    return found + [name for name in OTHER_NAMES if name in text]


def body_text(response) -> str:
    kind = response.headers.get("content-type", "")
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    if kind.startswith("application/json"):
        return headers + json.dumps(response.json(), ensure_ascii=False)
    if "spreadsheetml" in kind:
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        return headers + " ".join(str(cell) for sheet in book.worksheets
                                  for row in sheet.iter_rows(values_only=True)
                                  for cell in row if cell is not None)
    if kind.startswith("image/"):
        return headers
    return headers + response.text


# --- the world: both wards with ratings, tasks, alerts and shifts -------------------------------

def _build(path) -> dict[str, dict[str, str]]:
    store = Store(path)
    try:
        seed_demo(store, 8)
        # Ratings count from the devices' placement, which seeding just began.
        now = now_ms()
        base = now + 60_000
        targets = {}
        for side, (unit, section, officer, leader, counter, device) in {
                "own": ("hk", "hk-1c", "HK-0001", "HK-0101", "hk-q1", "kiosk-hk-01"),
                "other": ("bd", "bd-1c", "BD-0001", "BD-0101", "bd-q1", "kiosk-bd-01")}.items():
            # Ten dissatisfied citizens in a few minutes: enough ratings for an alert.
            batch = [incoming(rating_bytes(device=device, seq=n, level=1, officer=officer,
                                           ts=base + n * 20_000), device=device,
                              received_at=base + n * 20_000 + 500) for n in range(1, 11)]
            record_batch(store.db, batch)
            raised = alerts.check_after_batch(store.db, batch,
                                              load_preset("hanoi-3814").alerts, base + 300_000)
            assert raised, "the ratings should raise an alert"
            task = TaskService(store, actor="test").create(
                officer, title="Thẩm định hồ sơ", assigned_by=leader, period="month",
                deadline=TODAY.replace(day=28).isoformat())
            shift = store.db.execute("SELECT id FROM roster_shifts WHERE counter_id = ? "
                                     "ORDER BY id DESC", [counter]).fetchone()
            targets[side] = {"unit_id": section, "officer_id": officer, "device_id": device,
                             "counter_id": counter, "task_id": str(task["id"]),
                             "alert_id": str(raised[0]), "shift_id": str(shift[0]),
                             "month": MONTH, "year": str(TODAY.year), "kind": "org",
                             "code": "en", "ward": unit}
    finally:
        store.close()
    return targets


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("matrix") / "hailong.db"
    targets = _build(path)
    headers = {role: token_headers(path, login, role, officer=officer, unit=unit)
               for role, (login, officer, unit) in ROLES.items()}
    return path, targets, headers


# --- the requests -----------------------------------------------------------------------------


def _in(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _future(hours: int) -> str:
    moment = datetime.now(LOCAL_TZ).replace(minute=0, second=0, microsecond=0)
    return (moment + timedelta(days=60, hours=hours)).strftime("%Y-%m-%dT%H:%M")


# Query strings naming a target: own and other side.
QUERIES = {
    ("GET", "/api/v1/ratings"): ("officer={officer_id}", "officer={officer_id}"),
    ("GET", "/api/v1/alerts"): ("unit={ward}", "unit={ward}"),
    ("GET", "/api/v1/fleet"): ("unit={ward}", "unit={ward}"),
    ("GET", "/fleet"): ("unit={ward}", "unit={ward}"),
    ("GET", "/"): ("unit={unit_id}", "unit={unit_id}"),
    ("GET", "/years/{year}"): ("unit={unit_id}", "unit={unit_id}"),
    ("GET", "/api/v1/roster"): ("counter={counter_id}", "counter={counter_id}"),
    ("GET", "/api/v1/officers/{officer_id}/tasks"): ("month={month}", "month={month}"),
    ("DELETE", "/api/v1/roster/{shift_id}"): ("reason=matrix", "reason=matrix"),
}
NO_BROKER = {"/api/v1/devices/{device_id}/session", "/api/v1/devices/{device_id}/command"}
# Listings the other side filters rather than refuses: 200 and nothing of the other unit.
FILTERED = {("GET", "/api/v1/roster")}


def bodies(t: dict[str, str], n: int) -> dict[tuple[str, str], tuple[str, dict]]:
    """Minimal bodies per write: ("json" | "form", body) built from one side's targets; `n`
    keeps created ids and shifts apart."""
    return {
        ("POST", "/api/v1/devices/{device_id}/session"): ("json", {"dossier": "H26-0001"}),
        ("POST", "/api/v1/devices/{device_id}/command"): ("json", {"cmd": "reload_config"}),
        ("POST", "/api/v1/units"): ("json", {"id": f"mx-u{n}", "name": "Tổ thử",
                                             "parent_id": t["unit_id"]}),
        ("PATCH", "/api/v1/units/{unit_id}"): ("json", {"kind": "office"}),
        ("POST", "/api/v1/officers"): ("json", {"id": f"MX-{n:04d}", "name": "Cán bộ thử",
                                                "title": "Chuyên viên",
                                                "unit_id": t["unit_id"]}),
        ("PATCH", "/api/v1/officers/{officer_id}"): ("json", {"photo": None}),
        ("POST", "/api/v1/counters"): ("json", {"id": f"mx-q{n}", "label": "Quầy thử",
                                                "unit_id": t["unit_id"]}),
        ("PATCH", "/api/v1/counters/{counter_id}"): ("json", {"label": "Quầy 1"}),
        ("POST", "/api/v1/roster"): ("json", {"counter_id": t["counter_id"],
                                              "officer_id": t["officer_id"],
                                              "starts_at": _future(2 * n),
                                              "ends_at": _future(2 * n + 1)}),
        ("PATCH", "/api/v1/roster/{shift_id}"): ("json", {"reason": "matrix", "note": "x"}),
        ("POST", "/api/v1/import/{kind}"): ("json", {}),
        ("POST", "/api/v1/officers/{officer_id}/tasks"): ("json", {
            "title": "Việc thử", "period": "month", "deadline": _in(1)}),
        ("PATCH", "/api/v1/tasks/{task_id}"): ("json", {"progress": 10}),
        ("POST", "/api/v1/tasks/{task_id}/quality-error"): ("json", {"reason": "matrix"}),
        ("POST", "/api/v1/tasks/{task_id}/excuse-delay"): ("json", {"reason": "matrix"}),
        ("PUT", access.EVAL_OFFICER + "/self"): ("json", {"scores": {}}),
        ("PUT", access.EVAL_OFFICER + "/review"): ("json", {"scores": {},
                                                            "proposed_grade": "B"}),
        ("POST", access.EVAL_OFFICER + "/decision"): ("json", {"final_grade": "B"}),
        ("POST", access.EVAL_OFFICER + "/reopen"): ("json", {"reason": "matrix"}),
        ("POST", access.EVAL_OFFICER + "/responses"): ("json", {"text": "Ý kiến thử"}),
        ("PUT", "/api/v1/calendar/{month}"): ("json", {"self_due": _in(40),
                                                       "review_due": _in(41),
                                                       "decision_due": _in(42)}),
        ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): ("json", {"comment": "matrix"}),
        ("POST", "/api/v1/alerts/{alert_id}/notes"): ("json", {"text": "matrix"}),
        ("POST", "/officers/{officer_id}/months/{month}/review"): ("form", {
            "proposed_grade": "B"}),
        ("POST", "/officers/{officer_id}/months/{month}/decision"): ("form", {
            "final_grade": "B"}),
        ("POST", "/officers/{officer_id}/months/{month}/reopen"): ("form", {"reason": "x"}),
        ("POST", "/me/tasks"): ("form", {"title": "Việc thử", "period": "month",
                                         "deadline": _in(1), "month": MONTH}),
        ("POST", "/me/tasks/{task_id}/progress"): ("form", {"progress": "20"}),
        ("POST", "/me/tasks/{task_id}/done"): ("form", {"completed_on": TODAY.isoformat()}),
        ("POST", "/me/self-evaluation"): ("form", {"month": MONTH}),
        ("POST", "/me/responses"): ("form", {"month": LAST_MONTH, "text": "Ý kiến thử"}),
        ("POST", "/team/tasks"): ("form", {"officer_id": t["officer_id"], "title": "Việc",
                                           "period": "month", "deadline": _in(1)}),
        ("POST", "/team/tasks/{task_id}/quality-error"): ("form", {"reason": "matrix"}),
        ("POST", "/team/tasks/{task_id}/excuse-delay"): ("form", {"reason": "matrix"}),
        ("POST", "/alerts/{alert_id}/acknowledge"): ("form", {"comment": "matrix"}),
        ("POST", "/alerts/{alert_id}/notes"): ("form", {"text": "matrix"}),
        ("POST", "/logout"): ("form", {}),
    }


# Own-side writes whose body names the other unit: refused like the other side.
CROSS = {
    ("PATCH", "/api/v1/units/{unit_id}"): {"parent_id": "bd"},
    ("PATCH", "/api/v1/officers/{officer_id}"): {"unit_id": "bd-1c"},
    ("PATCH", "/api/v1/counters/{counter_id}"): {"unit_id": "bd-1c"},
    ("PATCH", "/api/v1/roster/{shift_id}"): {"reason": "matrix", "officer_id": "BD-0003"},
    ("POST", "/api/v1/roster"): {"counter_id": "hk-q2", "officer_id": "BD-0003",
                                 "starts_at": _future(-5), "ends_at": _future(-4)},
}

# Allowed by the table and refused by a finer rule for this role on Hoàn Kiếm's own target —
# (role, method, path): why.
_PEOPLE_STEPS = {
    ("leader", "PUT", access.EVAL_OFFICER + "/self"): "only the officer self-evaluates",
    ("head", "PUT", access.EVAL_OFFICER + "/self"): "only the officer self-evaluates",
    ("officer", "PUT", access.EVAL_OFFICER + "/review"): "only the direct leader reviews",
    ("head", "PUT", access.EVAL_OFFICER + "/review"): "HK-0001's leader of record reviews",
    ("officer", "POST", access.EVAL_OFFICER + "/decision"): "nobody decides their own grade",
    ("leader", "POST", access.EVAL_OFFICER + "/decision"): "only the responsible head decides",
    ("officer", "POST", access.EVAL_OFFICER + "/reopen"): "only the responsible head reopens",
    ("leader", "POST", access.EVAL_OFFICER + "/reopen"): "only the responsible head reopens",
    ("leader", "POST", access.EVAL_OFFICER + "/responses"): "only the officer responds",
    ("head", "POST", access.EVAL_OFFICER + "/responses"): "only the officer responds",
    ("officer", "POST", "/api/v1/tasks/{task_id}/quality-error"): "nobody judges own task",
    ("officer", "POST", "/api/v1/tasks/{task_id}/excuse-delay"): "nobody judges own task",
    ("head", "PUT", "/api/v1/calendar/{month}"): "only a top-level unit's head sets it",
    ("administrator", "POST", "/api/v1/import/{kind}"): "a file can touch every unit: only "
                                                         "an administrator of everything",
}
FINER = {**_PEOPLE_STEPS, **{
    (role, "POST", path.replace("/api/v1/officers/{officer_id}/evaluations/{month}",
                                "/officers/{officer_id}/months/{month}")): why
    for (role, method, path), why in _PEOPLE_STEPS.items()
    if path.endswith(("/review", "/decision", "/reopen"))},
    ("officer", "POST", "/team/tasks/{task_id}/quality-error"): "nobody judges own task",
    ("officer", "POST", "/team/tasks/{task_id}/excuse-delay"): "nobody judges own task",
}


def _url(path: str, query: str | None, t: dict[str, str]) -> str:
    url = re.sub(r"\{(\w+)\}", lambda m: t[m.group(1)], path)
    return url + ("?" + query.format(**t) if query else "")


def cases(app, targets):
    """(method, path, side, url, kind, body) for every operation, from the app's routes."""
    own, other = targets["own"], targets["other"]
    operations = sorted({(m, r.path) for r in all_routes(app.routes) for m in r.methods - {"HEAD"}})
    reads = [op for op in operations if op[0] == "GET"]
    writes = [op for op in operations if op[0] != "GET" and op[1] != "/logout"]
    writes.sort(key=lambda op: op[0] == "DELETE")  # withdrawing a shift last
    for number, (method, path) in enumerate(reads + writes + [("POST", "/logout")]):
        if access.rule_for(method, path).public:
            continue
        query_own, query_other = QUERIES.get((method, path), (None, None))
        targeted = "{" in path and path not in ("/api/v1/calendar/{month}",
                                                "/api/v1/import/{kind}") or query_other
        kind, body_own = bodies(own, 2 * number).get((method, path), ("json", None))
        _, body_other = bodies(other, 2 * number + 1).get((method, path), ("json", None))
        names_unit = isinstance(body_own, dict) and "unit_id" in body_own and "{" not in path
        if targeted or names_unit:
            yield method, path, "other", _url(path, query_other, other), kind, body_other
        if (method, path) in CROSS:
            yield method, path, "cross", _url(path, query_own, own), kind, CROSS[(method, path)]
        yield method, path, "own", _url(path, query_own, own), kind, body_own


def expected(role: str, method: str, path: str, side: str) -> str:
    rule = access.rule_for(method, path)
    if role not in rule.roles:
        return "deny"
    if side in ("other", "cross"):
        return "filter" if (method, path) in FILTERED else "deny"
    if role == "officer" and rule.target == "unit":
        return "deny"  # an officer's scope has no unit, only themself
    if (role, method, path) in FINER:
        return "deny"
    return "allow"


@pytest.mark.parametrize("role", list(ROLES))
def test_role_route_unit_matrix(world, tmp_path, role):
    source, targets, headers = world
    path = tmp_path / "hailong.db"
    for suffix in ("", "-wal", "-shm"):  # each role on its own copy: writes stay apart
        if (source.parent / (source.name + suffix)).exists():
            shutil.copy(source.parent / (source.name + suffix), str(path) + suffix)
    app = create_app(Settings(db_path=path, broker_url=None))
    problems, figures = [], Counter()
    with TestClient(app, headers=headers[role], follow_redirects=False) as client:
        for method, route, side, url, kind, body in cases(app, targets):
            want = expected(role, method, route, side)
            options = {"data" if kind == "form" else "json": body} if body is not None else {}
            response = client.request(method, url, **options)
            status = response.status_code
            where = f"{role} {method} {url} ({side}, expected {want}): {status}"
            if status == 503 and route in NO_BROKER:
                pass  # allowed, and this collector has no broker to send it to
            elif status >= 500 or status == 401:
                problems.append(f"{where} {response.text[:200]}")
            elif want == "deny" and status not in (403, 404) and not (
                    method == "GET" and status == 303):  # a page sending the role home
                problems.append(f"{where} should be refused: {response.text[:200]}")
            elif want == "allow" and (status == 403 or (status == 404 and method == "GET")):
                problems.append(f"{where} should pass: {response.text[:200]}")
            elif want == "filter" and status not in (200, 403, 404):
                problems.append(f"{where}: {response.text[:200]}")
            leaked = leaks(body_text(response), url + " " + json.dumps(body, ensure_ascii=False))
            if leaked:
                problems.append(f"{where} shows the other unit: {sorted(set(leaked))}")
            figures[(side, want)] += 1
    print(f"\n{role}: {sum(figures.values())} cells", dict(figures))
    assert not problems, "\n".join(problems)
