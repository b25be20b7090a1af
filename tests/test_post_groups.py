"""The quota within a group of similar posts (Decree 335/2025: "trong cùng cơ quan, tổ chức, đơn
vị và nhóm vị trí việc làm tương đồng"), and the group on each officer: imported and edited.

Worked examples, the expected numbers first. The deciding unit W (head H) has two groups:
"Một cửa" (MC…) and "Chuyên môn" (CM…); H is in the default group ("Cả đơn vị").

decree-335 (excellent for at most floor(20 % × those rated good) within the group):
- "Một cửa": MC1–MC5 decided HTTNV → cap floor(0.2 × 5) = 1.
- "Chuyên môn": CM1–CM10 decided HTTNV → cap floor(0.2 × 10) = 2. CM11 HTXSNV meets
  floor(0.2 × (10 + 2 undecided)) = 2 with 1: passes; CM12 floor(0.2 × 11) = 2 with 2:
  passes; CM13 floor(0.2 × 10) = 2 with 3: refused (409) until acknowledged.
- Then MC6 HTXSNV meets "Một cửa"'s own cap: floor(0.2 × 5) = 1 with 1: passes, no
  acknowledgement — counted apart from "Chuyên môn"'s three (pooled, 4 excellent against
  floor(0.2 × 15) = 3 would have been refused).
- The unit's lines: "Cả đơn vị" (H, not graded: counted at HTTNV, cap 0, 0 excellent),
  "Chuyên môn" (13 rated, base 10, cap 2, 3 excellent, 1 over), "Một cửa" (6 rated, base 5,
  cap 1, 1 excellent); the one line (`quota`) is "Chuyên môn", over by the most.

hanoi-3814 (A for at most floor(30 % × those rated) within the group):
- "Chuyên môn": CM1–CM8 B, CM9–CM11 A → 11 rated, cap floor(0.3 × 11) = 3: the third A passes.
- "Một cửa": MC1–MC3 B, MC4 and MC5 A → 5 rated, cap floor(0.3 × 5) = 1: MC4's A passes, MC5's
  A is refused (2 > 1) — though the unit as a whole, floor(0.3 × 17) = 5 with 5 A, would
  have let it through.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from accounts_support import admin_headers, as_officer
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.core.settings import Settings
from collector.db import audit
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation.policy import load_preset
from collector.evaluation.workflow import status
from collector.evaluation.workflow.steps import (
    QuotaNotAcknowledged,
    WorkflowService,
    local_today,
)
from collector.imports.applying import run_import
from collector.org import directory
from collector.org.organisation import OrganisationService, upsert_officer, upsert_unit

DECREE = {"politics_ethics": 7, "discipline": 7, "service_attitude": 6.5, "innovation": 5}
HANOI = {"discipline_ethics": 18, "bonus": 5}
MC, CM = "Một cửa", "Chuyên môn"


def build_org(store: Store, mc: int, cm: int) -> None:
    upsert_unit(store.db, "CITY", "Thành phố")
    upsert_unit(store.db, "W", "Phường Tây Hồ", "CITY", kind="ward")
    upsert_officer(store.db, "H0", "Chủ tịch Thành phố", "Chủ tịch", "CITY")
    upsert_officer(store.db, "H", "Chủ tịch phường", "Chủ tịch", "W")
    org = OrganisationService(store, actor="test")
    for prefix, count, group in (("MC", mc, MC), ("CM", cm, CM)):
        for n in range(1, count + 1):
            upsert_officer(store.db, f"{prefix}{n}", f"Cán bộ {prefix}{n}", "Chuyên viên", "W")
            org.set_post_group(f"{prefix}{n}", group)
    upsert_unit(store.db, "CITY", "Thành phố", head_id="H0")
    upsert_unit(store.db, "W", "Phường Tây Hồ", "CITY", kind="ward", head_id="H")


def grade(service, month, officer, code, scores, *, decide=True, acknowledge=False):
    service.review(officer, month, "H", scores, "Nhận xét", code)
    if decide:
        return service.decide(officer, month, "H", code, acknowledge_quota=acknowledge)
    return None


# --- decree-335, through the API for the refusal ------------------------------------------

# A month whose every due date has passed, whatever day the suite runs.
PAST = (local_today().replace(day=1) - timedelta(days=40)).strftime("%Y-%m")


@pytest.fixture
def decree(tmp_path):
    """W as in the docstring, under decree-335, graded up to CM13 and MC6 (reviewed only)."""
    path = tmp_path / "hailong.db"
    store = Store(path)
    build_org(store, mc=6, cm=13)
    service = WorkflowService(store, load_preset("decree-335"))
    for n in range(1, 6):
        grade(service, PAST, f"MC{n}", "HTTNV", DECREE)
    for n in range(1, 11):
        grade(service, PAST, f"CM{n}", "HTTNV", DECREE)
    first = grade(service, PAST, "CM11", "HTXSNV", DECREE)["quota"]
    second = grade(service, PAST, "CM12", "HTXSNV", DECREE)["quota"]
    grade(service, PAST, "CM13", "HTXSNV", DECREE, decide=False)
    grade(service, PAST, "MC6", "HTXSNV", DECREE, decide=False)
    yield path, store, service, (first, second)
    store.close()


@pytest.fixture
def client(decree):
    path = decree[0]
    app = create_app(Settings(db_path=path, broker_url=None, policy="decree-335"))
    with TestClient(app, headers=as_officer(path, "H", "head")) as client:
        yield client


def decision(client, officer, **body):
    return client.post(f"/api/v1/officers/{officer}/evaluations/{PAST}/decision",
                       json={"final_grade": "HTXSNV", **body})


def test_decree_335_caps_excellent_per_group_of_similar_posts(decree, client):
    _, store, _, (first, second) = decree
    assert (first["post_group"], first["base"], first["cap"], first["proposed"],
            first["refuses"]) == (CM, 12, 2, 1, False)
    assert (second["base"], second["cap"], second["proposed"], second["refuses"]) == \
        (11, 2, 2, False)

    refused = decision(client, "CM13")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "Nhóm vị trí việc làm «Chuyên môn»" in detail and "Post group “Chuyên môn”" in detail
    assert "tối đa 20 % × 10" in detail and "at most 20% × 10" in detail

    acknowledged = decision(client, "CM13", acknowledge_quota=True)
    assert acknowledged.status_code == 200
    quota = acknowledged.json()["quota"]
    assert (quota["post_group"], quota["base"], quota["cap"], quota["proposed"],
            quota["over_by"]) == (CM, 10, 2, 3, 1)

    # "Một cửa" is counted apart: 1 excellent against floor(0.2 × 5) = 1.
    passed = decision(client, "MC6")
    assert passed.status_code == 200, passed.json()
    quota = passed.json()["quota"]
    assert (quota["post_group"], quota["label_vi"], quota["base"], quota["cap"],
            quota["proposed"], quota["refuses"]) == (MC, MC, 5, 1, 1, False)
    [event] = [e for e in passed.json()["history"] if e["step"] == "decision"]
    assert (event["data"]["post_group"], event["data"]["acknowledged_quota"]) == (MC, False)


LINES = [  # (post_group, label_vi, label_en, rated, base, cap, proposed, over_by)
    (None, "Cả đơn vị", "Whole unit", 1, 1, 0, 0, 0),
    (CM, CM, CM, 13, 10, 2, 3, 1),
    (MC, MC, MC, 6, 5, 1, 1, 0),
]


def summary(line):
    return (line["post_group"], line["label_vi"], line["label_en"], line["rated"],
            line["base"], line["cap"], line["proposed"], line["over_by"])


def test_the_units_lines_come_one_per_group(decree, client):
    assert decision(client, "CM13", acknowledge_quota=True).status_code == 200
    assert decision(client, "MC6").status_code == 200
    store = decree[1]
    policy = load_preset("decree-335")
    report = status.unit_evaluation_status(store.db, policy, "W", PAST, local_today())
    assert [summary(line) for line in report["quotas"]] == LINES
    assert summary(report["quota"]) == LINES[1]  # the group over its cap by the most
    assert report["quotas"][0]["pending"] == 1  # H, counted at the best case

    # The month's report: grades as they stand, nobody padded (H is not graded: 0 rated).
    month = monthly.unit_month(store.db, "W", PAST, policy, now_ms=0, today=local_today())
    assert [summary(line) for line in month["quotas"]] == [
        (None, "Cả đơn vị", "Whole unit", 0, 0, 0, 0, 0), *LINES[1:]]
    assert summary(month["quota"]) == LINES[1] and summary(month["quota_final"]) == LINES[1]
    assert month["quota"]["vi"].startswith("Nhóm vị trí việc làm «Chuyên môn»: Cảnh báo")


def test_the_heads_decision_form_shows_the_group_lines(decree, client):
    page = client.get(f"/officers/MC6?month={PAST}")
    assert page.status_code == 200
    text = page.text
    for label in ("Cả đơn vị", "Chuyên môn", "Một cửa"):
        assert label in text
    assert "quota-warning" not in text  # MC6's excellent is within "Một cửa"'s cap
    warned = client.get(f"/officers/CM13?month={PAST}").text
    assert 'data-testid="quota-warning"' in warned

    # The unit's month page lists the same lines, Vietnamese first.
    overview = client.get(f"/?unit=W&month={PAST}")
    assert overview.status_code == 200
    assert 'data-testid="quota-groups"' in overview.text
    assert "Theo nhóm vị trí việc làm tương đồng" in overview.text
    assert "Cả đơn vị: Trong tỷ lệ." in overview.text
    assert "Nhóm vị trí việc làm «Một cửa»: Trong tỷ lệ." in overview.text


# --- hanoi-3814, through the service ------------------------------------------------------

MONTH, TODAY = "2026-03", date(2026, 4, 10)


def test_hanoi_3814_caps_a_per_group_too(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        build_org(store, mc=5, cm=11)
        ticks = itertools.count(1_775_000_000_000, 1000)
        service = WorkflowService(store, load_preset("hanoi-3814"), clock=lambda: next(ticks),
                                  today=lambda: TODAY)
        for n in range(1, 9):
            grade(service, MONTH, f"CM{n}", "B", HANOI)
        for n in (9, 10, 11):
            quota = grade(service, MONTH, f"CM{n}", "A", HANOI)["quota"]
        assert (quota["post_group"], quota["rated"], quota["cap"], quota["proposed"],
                quota["refuses"]) == (CM, 11, 3, 3, False)
        for n in (1, 2, 3):
            grade(service, MONTH, f"MC{n}", "B", HANOI)
        quota = grade(service, MONTH, "MC4", "A", HANOI)["quota"]
        # MC5 not decided yet: counted at B, the best case → 5 rated, cap 1, 1 A.
        assert (quota["post_group"], quota["rated"], quota["cap"], quota["proposed"],
                quota["pending"]) == (MC, 5, 1, 1, 1)
        with pytest.raises(QuotaNotAcknowledged) as refused:
            grade(service, MONTH, "MC5", "A", HANOI)
        assert (refused.value.quota.rated, refused.value.quota.cap,
                refused.value.quota.proposed) == (5, 1, 2)
        assert "Một cửa" in refused.value.vi and "Một cửa" in refused.value.en
    finally:
        store.close()


def test_a_decided_month_keeps_the_group_it_was_decided_in(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        build_org(store, mc=2, cm=0)
        service = WorkflowService(store, load_preset("hanoi-3814"), today=lambda: TODAY)
        grade(service, MONTH, "MC1", "B", HANOI)
        grade(service, MONTH, "MC2", "B", HANOI, decide=False)
        OrganisationService(store, actor="test").set_post_group("MC1", None)
        OrganisationService(store, actor="test").set_post_group("MC2", CM)
        # MC1 stays in "Một cửa" (decided there); so does MC2, only reviewed: the group is
        # fixed at the review, as the unit is (tests/test_issue12_review2.py).
        lines = status.unit_quotas(store.db, load_preset("hanoi-3814"), "W", MONTH)
        assert [(q.post_group, q.rated, q.pending) for q in lines] == [
            (None, 1, 1), (MC, 2, 0)]
    finally:
        store.close()


# --- the group on each officer: import ------------------------------------------------------

def import_org(store, *lines):
    return run_import(store, "org", [("officers.csv", ("\n".join(lines) + "\n").encode())],
                      today=lambda: TODAY, clock=lambda: 1, actor="test")


@pytest.fixture
def empty(tmp_path):
    store = Store(tmp_path / "org.db")
    upsert_unit(store.db, "W", "Phường Tây Hồ")
    yield store
    store.close()


def group_of(store, officer):
    return directory.org_record(store.db, "officers", officer)["post_group"]


def test_the_import_reads_an_optional_post_group_column(empty):
    report = import_org(empty, "Mã cán bộ;Họ và tên;Chức danh;Đơn vị;Nhóm vị trí việc làm",
                        "TH-1;Lê Thị Mai;Chuyên viên;W;  Một cửa ",
                        "TH-2;Phạm Văn Hùng;Chuyên viên;W;")
    assert report.ok and report.applied, report.rejected
    assert (group_of(empty, "TH-1"), group_of(empty, "TH-2")) == (MC, None)

    # Without the column the stored group stays; with it, an empty cell clears it.
    report = import_org(empty, "id,name,title,unit", "TH-1,Lê Thị Mai,Chuyên viên chính,W")
    assert report.applied and group_of(empty, "TH-1") == MC
    report = import_org(empty, "id,name,title,unit,post group",
                        "TH-1,Lê Thị Mai,Chuyên viên chính,W,")
    assert report.applied and group_of(empty, "TH-1") is None
    entry = audit.recent(empty.db, 1)[0]
    assert entry.before_value == {"officers": {"TH-1": {"post_group": MC}}}


def test_the_import_refuses_a_bad_post_group_in_both_languages(empty):
    report = import_org(empty, "id,name,title,unit,post group",
                        f"TH-1,Lê Thị Mai,Chuyên viên,W,{'x' * 101}")
    assert not report.applied
    [rejection] = report.rejected
    assert (rejection.row, rejection.column) == (2, "post group")
    assert rejection.vi == "post_group: tối đa 100 ký tự (hiện có 101)"
    assert rejection.en == "post_group: at most 100 characters (this has 101)"


# --- the group on each officer: the API --------------------------------------------------

@pytest.fixture
def admin(seeded_db):
    with TestClient(create_app(Settings(db_path=seeded_db, broker_url=None)),
                    headers=admin_headers(seeded_db)) as client:
        yield client


def put_group(client, officer, value, **kwargs):
    return client.put(f"/api/v1/officers/{officer}/post-group", json={"post_group": value},
                      **kwargs)


def test_an_administrator_sets_a_post_group_audited(admin, seeded_db):
    answer = put_group(admin, "HK-0001", "  Một cửa  ")
    assert answer.status_code == 200 and answer.json()["post_group"] == MC
    assert admin.get("/api/v1/officers/HK-0001").json()["post_group"] == MC
    assert put_group(admin, "HK-0001", MC).status_code == 200  # unchanged: no entry
    cleared = put_group(admin, "HK-0001", None)
    assert cleared.status_code == 200 and cleared.json()["post_group"] is None
    db = open_reader(seeded_db)
    try:
        entries = [e for e in audit.recent(db, None) if e.action == "officer.post_group"]
        assert [(e.actor, e.subject, e.before_value, e.after_value)
                for e in reversed(entries)] == [
            ("user:admin", "officer:HK-0001", {"post_group": None}, {"post_group": MC}),
            ("user:admin", "officer:HK-0001", {"post_group": MC}, {"post_group": None})]
        assert audit.verify(db).ok
    finally:
        db.conn.close()


@pytest.mark.parametrize("value, vi, en", [
    ("x" * 101, "post_group: tối đa 100 ký tự (hiện có 101)",
     "post_group: at most 100 characters (this has 101)"),
    ("Một\x07cửa", "post_group: có ký tự điều khiển hoặc không hợp lệ U+0007",
     "post_group: holds a control or invalid character U+0007"),
    ("Một\ncửa", "post_group: có ký tự điều khiển hoặc không hợp lệ U+000A",
     "post_group: holds a control or invalid character U+000A"),
])
def test_a_bad_post_group_is_refused_in_both_languages(admin, value, vi, en):
    answer = put_group(admin, "HK-0001", value)
    assert answer.status_code == 422
    assert vi in answer.json()["detail"] and en in answer.json()["detail"]


def test_an_unknown_officer_is_404_and_a_head_is_403(admin, seeded_db):
    assert put_group(admin, "XX-9999", MC).status_code == 404
    head = as_officer(seeded_db, "HK-0100", "head")
    refused = put_group(admin, "HK-0001", MC, headers=head)
    assert refused.status_code == 403
    assert admin.get("/api/v1/officers/HK-0001").json()["post_group"] is None
