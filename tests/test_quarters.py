"""Quarterly evaluation (Decree 335/2025: by month or by quarter; the policy chooses).

A quarterly copy of the decree-335 preset (`period = "quarter"`) over a small world of the
first quarter of 2026, evaluated on 10 April 2026:

- units hk (ward, head HK-H) ⊃ hk-1c (one-stop section); HK-L leads HK-A and HK-B;
  counter q1 with device d1;
- roster: HK-A at q1 on 5 January, 2 February and 2 March, 08:00–12:00; HK-B on 6 January;
- d1 online all of HK-A's January and March shifts, and 08:00–10:00 only on 2 February;
- ratings (4 levels: 1 Không hài lòng … 4 Rất hài lòng), all in the shifts:
  HK-A January 10×4, 2×2; February 9×4, 3×3; March 8×4, 2×3, 2×1 (12 each: no month alone
  reaches the minimum of 30, the quarter's 36 do); HK-B 30×3;
- HK-A's tasks: «Báo cáo» due 20/1 done 19/1; «Hồ sơ đất đai» due 31/1 done 10/2 (late in the
  quarter, where January alone would call it overdue); «Cấp phép» (weight 2) due 25/2 done
  20/2 with one major error; «Rà soát» due 31/3 not done; «Quý II» due 5/4 (not in Q1).
"""

from __future__ import annotations

import io
import itertools
import math
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient

from collector.api import month as api_month
from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store
from collector.evaluation import export_xlsx, month as monthly, year as annual
from collector.evaluation.policy import PRESETS_DIR, load_policy, load_preset
from collector.evaluation.tasks import TaskConflict, TaskService
from collector.evaluation.workflow.steps import WorkflowConflict, WorkflowError, WorkflowService
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.org.registry import register_device
from accounts_support import admin_headers, as_officer
from test_monthly import REVIEW, at, evaluate, online, presses, shift

QUARTER = "2026-Q1"
TODAY = date(2026, 4, 10)
NOW = at(10, 9, month=4)
MONTHLY = load_preset("decree-335")


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory):
    text = (PRESETS_DIR / "decree-335.toml").read_text(encoding="utf-8")
    assert text.count('period = "month"') == 1
    path = tmp_path_factory.mktemp("policy") / "decree-335-quarterly.toml"
    path.write_text(text.replace('period = "month"', 'period = "quarter"'), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def quarterly(policy_file):
    policy = load_policy(policy_file)
    assert policy.period == "quarter"
    return policy


def build_quarter(path) -> None:
    store = Store(path)
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward")
        upsert_unit(store.db, "hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm", "hk", kind="one_stop")
        upsert_officer(store.db, "HK-H", "Ngô Văn Hùng", "Chủ tịch", "hk")
        upsert_officer(store.db, "HK-L", "Đặng Thị Mai Lan", "Trưởng bộ phận", "hk",
                       leader_id="HK-H")
        upsert_officer(store.db, "HK-A", "Nguyễn Thị Thu Hường", "Chuyên viên", "hk-1c",
                       leader_id="HK-L")
        upsert_officer(store.db, "HK-B", "Trần Văn Đức", "Chuyên viên", "hk-1c",
                       leader_id="HK-L")
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward", head_id="HK-H")
        upsert_counter(store.db, "q1", "Quầy 1", "hk-1c")
        register_device(store.db, "d1", "q1", at=at(1, 0, month=1) - 86_400_000)

        shift(store, "d1", "HK-A", at(5, 8, month=1), at(5, 12, month=1))
        shift(store, "d1", "HK-B", at(6, 8, month=1), at(6, 12, month=1))
        shift(store, "d1", "HK-A", at(2, 8, month=2), at(2, 12, month=2))
        shift(store, "d1", "HK-A", at(2, 8, month=3), at(2, 12, month=3))
        with store.db.atomic():
            online(store, "d1", at(5, 7, month=1), at(5, 13, month=1), at(5, 12, 59, month=1))
            online(store, "d1", at(6, 7, month=1), at(6, 13, month=1), at(6, 12, 59, month=1))
            online(store, "d1", at(2, 8, month=2), at(2, 10, month=2), at(2, 9, 59, month=2))
            online(store, "d1", at(2, 7, month=3), at(2, 13, month=3), at(2, 12, 59, month=3))
        batch = presses("d1", 1, at(5, 8, month=1), [4] * 10 + [2] * 2)
        batch += presses("d1", 2, at(6, 8, month=1), [3] * 30)
        batch += presses("d1", 3, at(2, 8, month=2), [4] * 9 + [3] * 3)
        batch += presses("d1", 4, at(2, 8, month=3), [4] * 8 + [3] * 2 + [1] * 2)
        assert record_batch(store.db, batch)["stored"] == len(batch)

        service = TaskService(store, actor="HK-L", clock=lambda: NOW, today=lambda: TODAY)

        def task(title: str, deadline: str, weight: float = 1) -> int:
            return service.create("HK-A", title=title, assigned_by="HK-L", period="month",
                                  deadline=deadline, weight=weight)["id"]
        report, land, permit = (task("Báo cáo", "2026-01-20"), task("Hồ sơ đất đai", "2026-01-31"),
                                task("Cấp phép", "2026-02-25", 2))
        task("Rà soát", "2026-03-31")
        task("Quý II", "2026-04-05")
        service.update(report, {"completed_on": "2026-01-19"})
        service.update(land, {"completed_on": "2026-02-10"})
        service.update(permit, {"completed_on": "2026-02-20"})
        service.flag_error(permit, "Sai sót hồ sơ")
    finally:
        store.close()


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "hailong.db"
    build_quarter(path)
    store = Store(path)
    yield store
    store.close()


def quarter_of(db, policy, officer="HK-A", period=QUARTER):
    return monthly.officer_month(db, officer, period, policy, now_ms=NOW, today=TODAY)


# --- the quarter's evidence and score ------------------------------------------------------

def test_the_quarter_counts_the_evidence_of_all_three_months(store, quarterly):
    result = quarter_of(store.db, quarterly)
    sat = result["satisfaction"]
    # 12 + 12 + 12 = 36 ratings: 27×4, 5×3, 2×2, 2×1; sufficient (≥ 30) only as a quarter.
    assert (sat["total"], sat["sufficient"]) == (36, True)
    assert sat["counts"] == {"very_dissatisfied": 0, "dissatisfied": 2, "neutral": 2,
                             "satisfied": 5, "very_satisfied": 27}
    # Index (27×100 + 5×66.67 + 2×33.33 + 2×0) / 36 = 3100 / 36 = 86.1; share 32/36.
    assert sat["index"] == 86.1 and sat["share_satisfied"] == round(32 / 36, 4)
    # Duty 3 × 4 h = 12 h; online 4 + 2 + 4 = 10 h; share 10/12.
    cov = sat["coverage"]
    assert (cov["duty_hours"], cov["online_hours"], cov["offline_hours"], cov["share"]) == (
        12.0, 10.0, 2.0, 0.8333)
    # The unit compares the quarter too: median of A 86.11… and B 66.67 = 76.39 → 76.4; A's
    # difference 86.11… − 76.39 = 9.72 → 9.7, rank 1 of 2.
    assert sat["comparison"] == {"median": 76.4, "compared": 2, "difference": 9.7, "rank": 1}
    # Four tasks due in the quarter (the one due 5 April is Q2's); «Hồ sơ đất đai» finished
    # on 10 February, after its deadline but within the quarter: late, not overdue.
    tasks = result["tasks"]
    assert tasks["summary"] == {"registered": 4, "on_time": 2, "late": 1, "overdue": 1,
                                "excused": 0, "open": 0}
    assert [(t["title"], t["status"], t["period"]) for t in tasks["items"]] == [
        ("Báo cáo", "on_time", QUARTER), ("Hồ sơ đất đai", "late", QUARTER),
        ("Cấp phép", "on_time", QUARTER), ("Rà soát", "overdue", QUARTER)]


def test_a_month_alone_is_what_the_monthly_policy_sees(store):
    march = quarter_of(store.db, MONTHLY, period="2026-03")
    assert (march["satisfaction"]["total"], march["satisfaction"]["sufficient"]) == (12, False)
    january = quarter_of(store.db, MONTHLY, period="2026-01")
    # January judged alone: «Hồ sơ đất đai» was not done by 31 January: overdue.
    assert january["tasks"]["summary"]["overdue"] == 1
    assert january["tasks"]["summary"]["late"] == 0


def test_worked_example_of_a_quarters_score(store, quarterly):
    evaluate(store, "HK-A", month=QUARTER, review_scores=REVIEW, proposed_grade="HTTNV",
             reviewed_by="HK-L", reviewed_at=at(2, 9, month=4))
    result = quarter_of(store.db, quarterly)
    # W = 1 + 1 + 2 + 1 = 5. Quantity (1 + 1 + 2) / 5 = 80 %; quality: «Cấp phép» loses
    # 25 % for its error, (1 + 1 + 2 × 0.75) / 5 = 70 %; progress: «Hồ sơ đất đai» is late,
    # (1 + 0.75 + 2) / 5 = 75 %.
    assert result["tasks"]["percentages"] == {"quantity": 80.0, "quality": 70.0,
                                              "progress": 75.0}
    suggestion = result["suggestion"]
    # Task results 70/3 × (0.80 + 0.70 + 0.75) = 52.5. Service attitude: leader 6 × 0.5 = 3;
    # citizens 3.75 × 32/36 = 3.333…; 6.333… → 6.33. Total 7 + 7.5 + 6.333… + 5 + 52.5 =
    # 78.333… → 78.33 → Hoàn thành tốt nhiệm vụ.
    assert suggestion["criteria"] == {"politics_ethics": 7.0, "discipline": 7.5,
                                      "service_attitude": 6.33, "innovation": 5.0,
                                      "task_results": 52.5}
    assert suggestion["score"] == 78.33 and suggestion["grade"]["code"] == "HTTNV"
    assert suggestion["satisfaction_counted"]
    assert math.isclose(sum(line["points"] for line in suggestion["lines"]), 78.33)
    assert result["month"] == QUARTER and result["policy"]["period"] == "quarter"


def test_the_unit_report_of_a_quarter(store, quarterly):
    report = monthly.unit_month(store.db, "hk", QUARTER, quarterly, now_ms=NOW, today=TODAY)
    rows = {row["officer_id"]: row for row in report["officers"]}
    assert rows["HK-A"]["satisfaction"]["ratings"] == 36
    assert rows["HK-B"]["satisfaction"]["ratings"] == 30
    assert rows["HK-A"]["tasks"]["registered"] == 4


# --- one period kind at a time ------------------------------------------------------------

def test_a_month_is_refused_under_the_quarterly_policy(store, quarterly):
    with pytest.raises(monthly.MonthlyError) as refused:
        quarter_of(store.db, quarterly, period="2026-03")
    assert "Chính sách đánh giá theo quý" in refused.value.vi and "2026-Q1" in refused.value.vi
    assert "The policy evaluates by quarter" in refused.value.en
    service = WorkflowService(store, quarterly, today=lambda: TODAY)
    with pytest.raises(WorkflowError, match="evaluates by quarter"):
        service.self_evaluate("HK-A", "2026-03", "HK-A", REVIEW)


def test_a_quarter_is_refused_under_the_monthly_policy(store):
    with pytest.raises(monthly.MonthlyError, match="evaluates by month"):
        quarter_of(store.db, MONTHLY)
    service = WorkflowService(store, MONTHLY, today=lambda: TODAY)
    with pytest.raises(WorkflowError, match="Chính sách đánh giá theo tháng"):
        service.self_evaluate("HK-A", QUARTER, "HK-A", REVIEW)


# --- the workflow of a quarter --------------------------------------------------------------

class Day:
    def __init__(self, day: date):
        self.day = day

    def __call__(self) -> date:
        return self.day


def test_self_review_decide_on_a_quarter(store, quarterly):
    day = Day(date(2026, 3, 24))
    ticks = itertools.count(NOW, 1000)

    def evidence(officer_id: str, period: str) -> dict:
        return monthly.officer_month(store.db, officer_id, period, quarterly, now_ms=NOW,
                                     today=day())
    service = WorkflowService(store, quarterly, clock=lambda: next(ticks), today=day,
                              evidence_of=evidence)
    # Opens on the 25th of the quarter's last month; due 3, 5 and 7 April.
    with pytest.raises(WorkflowConflict, match="opens on 2026-03-25"):
        service.self_evaluate("HK-A", QUARTER, "HK-A", REVIEW)
    day.day = date(2026, 3, 25)
    status = service.self_evaluate("HK-A", QUARTER, "HK-A", REVIEW, "Quý I hoàn thành tốt")
    assert status["calendar"] == {"month": QUARTER, "opens": "2026-03-25",
                                  "self_due": "2026-04-03", "review_due": "2026-04-05",
                                  "decision_due": "2026-04-07", "source": "default",
                                  "set_by": None, "set_at": None}
    # The review opens the day after the quarter ends: 1 April 2026.
    day.day = date(2026, 3, 31)
    with pytest.raises(WorkflowConflict) as early:
        service.review("HK-A", QUARTER, "HK-L", REVIEW, "Tốt", "HTTNV")
    assert early.value.vi.startswith("Quý I/2026 chưa kết thúc")
    assert "open on 2026-04-01" in early.value.en
    day.day = date(2026, 4, 1)
    service.review("HK-A", QUARTER, "HK-L", REVIEW, "Tốt", "HTTNV")
    day.day = date(2026, 4, 2)
    decided = service.decide("HK-A", QUARTER, "HK-H", "HTTNV", "Đồng ý")
    assert decided["stage"] == "decided" and decided["month"] == QUARTER
    assert decided["decision"]["final_score"] == 78.33
    row = store.db.execute("SELECT month, final_grade FROM evaluations WHERE officer_id = ?",
                           ["HK-A"]).fetchall()
    assert [tuple(r) for r in row] == [(QUARTER, "HTTNV")]
    # The decided quarter locks the tasks of its three months, not those of the next.
    tasks = TaskService(store, actor="HK-L", clock=lambda: NOW, today=lambda: TODAY)
    with pytest.raises(TaskConflict, match="Quý I/2026"):
        tasks.create("HK-A", title="Bổ sung", assigned_by="HK-L", period="month",
                     deadline="2026-02-15")
    assert tasks.create("HK-A", title="Quý II", assigned_by="HK-L", period="month",
                        deadline="2026-04-20")["period"] == "2026-04"


def test_a_quarter_not_begun_cannot_be_evaluated(store, quarterly):
    service = WorkflowService(store, quarterly, today=lambda: date(2026, 3, 31))
    with pytest.raises(WorkflowConflict, match="2026-Q2 has not come yet"):
        service.self_evaluate("HK-A", "2026-Q2", "HK-A", REVIEW)


# --- the year of quarters -------------------------------------------------------------------

def test_the_year_averages_the_decided_quarters(store, quarterly):
    for period, score in ((QUARTER, 78.33), ("2026-Q2", 85.0)):
        evaluate(store, "HK-A", month=period, review_scores=REVIEW, proposed_grade="HTTNV",
                 reviewed_by="HK-L", reviewed_at=NOW, final_grade="HTTNV", final_score=score,
                 decided_by="HK-H", decided_at=NOW)
    year = annual.officer_year(store.db, "HK-A", 2026, quarterly, today=date(2026, 7, 10))
    # Q1 and Q2 have ended by 10 July; (78.33 + 85) / 2 = 81.665 → 81.67.
    assert [cell["month"] for cell in year["months"]] == [QUARTER, "2026-Q2"]
    assert year["months_counted"] == 2 and year["months_missing"] == []
    assert year["average"] == 81.67 and year["grade"]["code"] == "HTTNV"
    # Later in the year the third quarter is expected and missing.
    later = annual.officer_year(store.db, "HK-A", 2026, quarterly, today=date(2026, 10, 1))
    assert later["months_missing"] == ["2026-Q3"]


# --- XLSX and the printable form ------------------------------------------------------------

def test_xlsx_of_a_quarter_and_of_a_year_of_quarters(store, quarterly):
    report = monthly.unit_month(store.db, "hk", QUARTER, quarterly, now_ms=NOW, today=TODAY)
    buffer = io.BytesIO()
    export_xlsx.unit_month_xlsx(report, buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active
    # A sheet name cannot hold "/": the quarter is written out.
    assert sheet.title == "Quý I năm 2026"
    assert sheet["A1"].value == "ĐÁNH GIÁ, XẾP LOẠI HẰNG QUÝ – QUÝ I/2026"
    year = annual.unit_year(store.db, "hk", 2026, quarterly, today=TODAY)
    buffer = io.BytesIO()
    export_xlsx.annual_xlsx(year, buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active
    headers = [cell.value for cell in next(sheet.iter_rows(min_row=6, max_row=6))]
    assert headers[5:9] == ["Quý I", "Quý II", "Quý III", "Quý IV"]
    assert "Số quý được tính" in headers


@pytest.fixture
def client(store, policy_file):
    app = create_app(Settings(db_path=store.path, broker_url=None, policy=str(policy_file)))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    with TestClient(app, headers=admin_headers(store.path)) as client:
        yield client


def test_the_api_and_the_printable_form_take_the_quarter(client):
    body = client.get(f"/api/v1/officers/HK-A/months/{QUARTER}").json()
    assert body["satisfaction"]["total"] == 36
    refused = client.get("/api/v1/officers/HK-A/months/2026-03")
    assert refused.status_code == 422 and "evaluates by quarter" in refused.json()["detail"]
    xlsx = client.get(f"/api/v1/units/hk/months/{QUARTER}.xlsx")
    assert xlsx.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.title == "Quý I năm 2026"
    status = client.get(f"/api/v1/units/hk/evaluations/{QUARTER}/status")
    assert status.status_code == 200 and status.json()["calendar"]["opens"] == "2026-03-25"
    assert client.get("/api/v1/units/hk/evaluations/2026-03/status").status_code == 422
    form = client.get(f"/officers/HK-A/months/{QUARTER}/form")
    assert form.status_code == 200
    assert "PHIẾU ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG HẰNG QUÝ" in form.text
    assert "Quý I/2026" in form.text and "Tháng Quý" not in form.text
    english = client.get(f"/officers/HK-A/months/{QUARTER}/form?lang=en")
    assert "QUARTERLY EVALUATION AND CLASSIFICATION FORM" in english.text
    assert "Q1 2026" in english.text


def test_the_pages_step_by_quarter(client, store):
    page = client.get(f"/officers/HK-A?month={QUARTER}")
    assert page.status_code == 200
    assert "Quý I/2026" in page.text and "Tháng Quý" not in page.text
    assert "month=2025-Q4" in page.text and "month=2026-Q2" in page.text
    assert "Quý trước" in page.text and "Quý sau" in page.text
    assert client.get("/officers/HK-A?month=2026-03").status_code == 422
    overview = client.get(f"/?unit=hk&month={QUARTER}")
    assert overview.status_code == 200
    # The picker offers quarters (a month input cannot hold "2026-Q1").
    assert f'<option value="{QUARTER}" selected>Quý I/2026</option>' in overview.text
    assert 'type="month"' not in overview.text
    # Without a month, the pages open on this quarter (10 April 2026: Q2).
    assert "Quý II/2026" in client.get("/officers/HK-A").text


def test_the_workspaces_take_the_quarter(client, store):
    me = client.get(f"/me?month={QUARTER}", headers=as_officer(store.path, "HK-A"))
    assert me.status_code == 200
    assert "Quý I/2026" in me.text and "Hồ sơ đất đai" in me.text and "Quý II<" not in me.text
    assert "2026-Q2" in me.text  # the next quarter's link
    team = client.get(f"/team?month={QUARTER}", headers=as_officer(store.path, "HK-L"))
    assert team.status_code == 200 and "Quý I/2026" in team.text
    api = client.get(f"/api/v1/team?month={QUARTER}", headers=as_officer(store.path, "HK-L"))
    member = next(m for m in api.json()["members"] if m["officer_id"] == "HK-A")
    assert member["tasks"]["registered"] == 4 and member["tasks"]["late"] == 1


def test_a_quarters_own_due_dates(store, quarterly):
    service = WorkflowService(store, quarterly, today=lambda: TODAY)
    with pytest.raises(WorkflowError) as early:
        service.set_calendar(QUARTER, "HK-H", "2026-03-28", "2026-03-31", "2026-04-08")
    assert "khi quý đã kết thúc" in early.value.vi and "01/04/2026" in early.value.vi
    dates = service.set_calendar(QUARTER, "HK-H", "2026-04-06", "2026-04-10", "2026-04-15")
    assert (dates["month"], dates["opens"], dates["review_due"]) == (
        QUARTER, "2026-03-25", "2026-04-10")
    with pytest.raises(WorkflowError, match="evaluates by quarter"):
        service.set_calendar("2026-03", "HK-H", "2026-04-06", "2026-04-10", "2026-04-15")
