"""The year's grade with its quota check (issue 12), expected numbers worked by hand.

Both presets cap the top grade (HTXSNV) for the year as for each month (`[year] apply_quota`):
hanoi-3814 at floor(30 % × everyone rated), 40 % in an outstanding unit; decree-335 at
floor(20 % × those rated good). The check runs per group of similar posts (the officer's
`post_group`; none = the whole unit). Where the candidates exceed the cap, they keep the top
grade in order of their exact average, highest first; the rest get the grade below it. Under
decree-335 those moved down are then rated good and join the base: the cap is the largest
number of excellent that the year's grades, as they end, allow (k ≤ floor(20 % × (good + those
moved down))). A tie at the cap's boundary is the head's to break.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import openpyxl

from collector.db.store import Store
from collector.evaluation import export_xlsx, year as annual
from collector.evaluation.policy import load_preset
from collector.org.organisation import upsert_officer, upsert_unit
from test_workflow import DECREE as DECREE_SCORES, Day, MONTH, build_org, make_service

HANOI = load_preset("hanoi-3814")
DECREE = load_preset("decree-335")
TODAY = date(2026, 4, 10)


def decided(month, score, grade="HTTNV", disciplined=0):
    return {"month": month, "final_score": score, "final_grade": grade,
            "disciplined": disciplined, "decided_by": "H", "decided_by_name": "Thủ trưởng",
            "decided_at": 1}


def officer(policy, code, *scores, group=None, disciplined=False):
    """An officer's year row as unit_year builds it, one decided month per score."""
    rows = [decided(f"2026-{i:02d}", score, disciplined=int(disciplined and i == 1))
            for i, score in enumerate(scores, start=1)]
    return {"officer": {"id": code, "name": f"Cán bộ {code}", "post_group": group},
            **annual.roll_up(policy, rows, [])}


def graded(policy, averages, *, outstanding=False, groups=None):
    """Run the quota over officers P1.. with these averages; officer id → row, and quotas."""
    groups = groups or [None] * len(averages)
    rows = [officer(policy, f"P{i}", *(a if isinstance(a, tuple) else (a,)), group=g)
            for i, (a, g) in enumerate(zip(averages, groups), start=1)]
    rows, quotas = annual.year_quota(policy, rows, outstanding=outstanding)
    return {row["officer"]["id"]: row for row in rows}, quotas


def codes(rows):
    return {code: row["grade"]["code"] for code, row in rows.items()}


# --- the month's final score follows the grade, so the year does too ----------------------------

def test_an_officer_capped_from_a_to_b_every_month_averages_below_90(tmp_path):
    store = Store(tmp_path / "hailong.db")
    build_org(store)
    try:
        evidence = {"suggestion": {"score": 95.0, "grade": "HTXSNV"}}
        service = make_service(store, Day(TODAY), "decree-335", evidence_of=lambda o, m: evidence)
        for month in ("2026-01", "2026-02", MONTH):
            service.review("O1", month, "L1", DECREE_SCORES, None, "HTXSNV")
            service.decide("O1", month, "H1", "HTTNV", "Vượt tỷ lệ của đơn vị")
        year = annual.officer_year(store.db, "O1", 2026, DECREE, today=TODAY)
    finally:
        store.close()
    # Each month: suggested 95 (excellent by points), decided good → 89.99. The average of three
    # 89.99 is 89.99: good, where the suggested scores alone would have averaged 95, excellent.
    assert [cell["final_score"] for cell in year["months"]] == [89.99, 89.99, 89.99]
    assert (year["average"], year["grade_by_points"]["code"], year["grade"]["code"]) == (
        89.99, "HTTNV", "HTTNV")
    # Alone, without the unit, the quota cannot be judged: the year says where it is.
    assert year["quota_note"]["vi"].startswith("Tỷ lệ xếp loại «Hoàn thành xuất sắc nhiệm vụ»")
    assert "within the unit" in year["quota_note"]["en"]


# --- decree-335: floor(20 % × good), those moved down join the base ------------------------------

def test_decree_335_three_excellent_five_good():
    # 3 averages ≥ 90 (95, 93, 91) and 5 good. As graded by points: base 5 good → cap
    # floor(0.2 × 5) = 1, exceeded by 2. Keeping 2 would move 1 down: base 6, floor(1.2) = 1 < 2;
    # keeping 1 moves 2 down: base 7, floor(1.4) = 1 ≥ 1. So 95 keeps excellent, 93 and 91 are
    # graded good; the year ends 1 excellent, 7 good — within floor(20 % × 7) = 1.
    rows, quotas = graded(DECREE, [95, 93, 91, 80, 78, 76, 74, 72])
    assert codes(rows) == {"P1": "HTXSNV", "P2": "HTTNV", "P3": "HTTNV", **{
        f"P{i}": "HTTNV" for i in range(4, 9)}}
    assert [rows[p]["grade_by_points"]["code"] for p in ("P1", "P2", "P3")] == ["HTXSNV"] * 3
    (quota,) = quotas
    assert (quota["group"], quota["label"]) == (None, {"vi": "Cả đơn vị", "en": "Whole unit"})
    assert (quota["rated"], quota["candidates"], quota["base"], quota["cap"]) == (8, 3, 7, 1)
    assert (quota["kept"], quota["demoted"], quota["tied"], quota["exceeded"]) == (1, 2, 0, True)
    assert rows["P2"]["quota_note"]["vi"] == (
        "Điểm bình quân 93 đạt loại «Hoàn thành xuất sắc nhiệm vụ» nhưng vượt tỷ lệ của nhóm "
        "«Cả đơn vị» (1 suất: tối đa 20 % × 7 = 1, làm tròn xuống): xếp loại «Hoàn thành tốt "
        "nhiệm vụ»")
    assert rows["P2"]["quota_note"]["en"] == (
        "The average 93 reaches “Excellent” but exceeds the quota of group “Whole unit” "
        "(1 place: at most 20% × 7 = 1, rounded down): graded “Good”")
    assert "thứ 1" in rows["P1"]["quota_note"]["vi"] and not rows["P1"]["quota_tie"]
    assert rows["P4"]["quota_note"] is None


def test_decree_335_those_moved_down_can_make_room_for_another():
    # 4 averages ≥ 90 (96, 94, 92, 90.5) and 8 good. By points: floor(0.2 × 8) = 1. Keeping 2
    # moves 2 down: base 10, floor(2.0) = 2 ≥ 2 — allowed; keeping 3: base 9, floor(1.8) = 1.
    # So 96 and 94 stay excellent (counting the base before the moves would have kept only one,
    # though the year's own grades, 2 excellent and 10 good, allow two).
    rows, (quota,) = graded(DECREE, [96, 94, 92, 90.5] + [80] * 8)
    assert [codes(rows)[p] for p in ("P1", "P2", "P3", "P4")] == [
        "HTXSNV", "HTXSNV", "HTTNV", "HTTNV"]
    assert (quota["base"], quota["cap"], quota["kept"], quota["demoted"]) == (10, 2, 2, 2)


def test_a_disciplined_officer_is_no_candidate_and_not_in_the_base():
    # P1 averages 95 but was disciplined: not completed for the year (decree-335), so neither a
    # candidate nor good. P2 (92) and 5 good: floor(0.2 × 5) = 1 → P2 keeps excellent.
    rows = [officer(DECREE, "P1", 95, 95, disciplined=True), officer(DECREE, "P2", 92)]
    rows += [officer(DECREE, f"P{i}", 80) for i in range(3, 8)]
    rows, (quota,) = annual.year_quota(DECREE, rows, outstanding=False)
    by_id = {row["officer"]["id"]: row for row in rows}
    assert (by_id["P1"]["grade"]["code"], by_id["P2"]["grade"]["code"]) == ("KHTNV", "HTXSNV")
    assert (quota["candidates"], quota["base"], quota["cap"], quota["exceeded"]) == (1, 5, 1,
                                                                                     False)


# --- hanoi-3814: floor(30 % × everyone rated) ----------------------------------------------

def test_hanoi_30_percent_of_ten():
    # 10 rated: cap floor(0.3 × 10) = 3 (moving one down changes no base: everyone counts).
    # 96, 94, 92 keep A; 90 is graded B.
    averages = [96, 94, 92, 90, 85, 80, 75, 70, 65, 60]
    rows, (quota,) = graded(HANOI, averages)
    assert [codes(rows)[f"P{i}"] for i in range(1, 6)] == ["HTXSNV"] * 3 + ["HTTNV"] * 2
    assert rows["P4"]["grade"]["letter"] == "B" and rows["P4"]["quota_note"]
    assert (quota["base"], quota["cap"], quota["kept"], quota["demoted"]) == (10, 3, 3, 1)
    assert quota["vi"] == (
        "Nhóm «Cả đơn vị»: 4 người đạt loại «Hoàn thành xuất sắc nhiệm vụ» theo điểm bình quân, "
        "vượt tỷ lệ: tối đa 30 % × 10 (số được đánh giá) = 3 (làm tròn xuống); giữ 3 người có "
        "điểm bình quân cao nhất, 1 người xếp loại «Hoàn thành tốt nhiệm vụ»")
    # An outstanding unit: floor(0.4 × 10) = 4, all four keep A.
    rows, (quota,) = graded(HANOI, averages, outstanding=True)
    assert [codes(rows)[f"P{i}"] for i in range(1, 5)] == ["HTXSNV"] * 4
    assert (quota["cap"], quota["exceeded"], rows["P4"]["quota_note"]) == (4, False, None)
    assert quota["vi"].startswith("Nhóm «Cả đơn vị»: trong tỷ lệ")


def test_a_tie_at_the_boundary_is_left_to_the_head():
    # Cap 3 of 10. By average: 95, 93, then 91 and 91 for the third place, then 90.5. The two
    # at 91 stay candidates (quota_tie), hailong does not choose between them; 90.5 is graded B.
    rows, (quota,) = graded(HANOI, [95, 93, 91, 91, 90.5, 80, 80, 80, 80, 80])
    assert codes(rows)["P5"] == "HTTNV"
    assert [rows[p]["quota_tie"] for p in ("P1", "P2", "P3", "P4", "P5")] == [
        False, False, True, True, False]
    assert codes(rows)["P3"] == codes(rows)["P4"] == "HTXSNV"
    assert (quota["kept"], quota["tied"], quota["demoted"], quota["cap"]) == (2, 2, 1, 3)
    assert rows["P3"]["quota_note"]["vi"] == (
        "Điểm bình quân 91 bằng người khác ở ranh giới tỷ lệ của nhóm «Cả đơn vị» (còn 1 suất "
        "cho 2 người): hailong không phân định, thủ trưởng quyết định")
    assert "the head decides" in rows["P3"]["quota_note"]["en"]
    assert "thủ trưởng quyết định" in quota["vi"]


def test_the_order_is_the_exact_average_not_the_rounded_one():
    # P1: (90.01 + 90) / 2 = 90.005, shown 90.01; P2: 90.01. Four rated: cap floor(1.2) = 1.
    # Shown alike, but 90.01 > 90.005: P2 keeps A, P1 is graded B — no tie.
    rows, (quota,) = graded(HANOI, [(90.01, 90.0), 90.01, 80, 80])
    assert rows["P1"]["average"] == rows["P2"]["average"] == 90.01
    assert (codes(rows)["P1"], codes(rows)["P2"]) == ("HTTNV", "HTXSNV")
    assert not rows["P1"]["quota_tie"] and quota["tied"] == 0


def test_two_post_groups_are_counted_apart():
    # Group "Một cửa": 95, 93, 91, 80, 80 → floor(0.3 × 5) = 1: 95 keeps A, 93 and 91 get B.
    # No group (the default, the whole unit): 92, 80, 80, 80, 80 → floor(1.5) = 1: 92 keeps A.
    # (Counted together, 4 of 10 against floor(3.0) = 3 would have moved only 91.)
    groups = ["Một cửa"] * 5 + [None] * 5
    rows, quotas = graded(HANOI, [95, 93, 91, 80, 80, 92, 80, 80, 80, 80], groups=groups)
    assert [codes(rows)[p] for p in ("P1", "P2", "P3", "P6")] == [
        "HTXSNV", "HTTNV", "HTTNV", "HTXSNV"]
    assert [(q["group"], q["label"]["vi"], q["rated"], q["cap"], q["demoted"]) for q in quotas] == [
        (None, "Cả đơn vị", 5, 1, 0), ("Một cửa", "Một cửa", 5, 1, 2)]
    assert "«Một cửa»" in rows["P2"]["quota_note"]["vi"]


def test_without_the_year_quota_nothing_moves():
    policy = replace(HANOI, year=replace(HANOI.year, apply_quota=False))
    rows, quotas = graded(policy, [96, 94, 92, 90, 85, 80, 75, 70, 65, 60])
    assert quotas == [] and codes(rows)["P4"] == "HTXSNV" and rows["P4"]["quota_note"] is None


# --- through the unit's year ------------------------------------------------------------------

def unit_with_averages(store, averages, groups):
    upsert_unit(store.db, "Q", "Phường Q", None)
    for i, (score, group) in enumerate(zip(averages, groups), start=1):
        upsert_officer(store.db, f"Q{i}", f"Cán bộ Q{i}", "Chuyên viên", "Q")
        if group is not None:
            store.db.execute("UPDATE officers SET post_group = ? WHERE id = ?", [group, f"Q{i}"])
        grade = "HTXSNV" if score >= 90 else "HTTNV"
        store.db["evaluations"].upsert(
            {"officer_id": f"Q{i}", "month": "2026-01", "final_grade": grade,
             "final_score": score, "decided_by": "Q1", "decided_at": 1, "updated_at": 1},
            pk=("officer_id", "month"))


def test_the_unit_year_reports_each_groups_quota(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        unit_with_averages(store, [95, 93, 91, 80, 80, 92, 80, 80, 80, 80],
                           ["Một cửa"] * 5 + [None] * 5)
        year = annual.unit_year(store.db, "Q", 2026, HANOI, today=date(2026, 2, 10))
    finally:
        store.close()
    rows = {row["officer"]["id"]: row for row in year["officers"]}
    assert [rows[q]["grade"]["code"] for q in ("Q1", "Q2", "Q3", "Q6")] == [
        "HTXSNV", "HTTNV", "HTTNV", "HTXSNV"]
    assert [q["label"]["en"] for q in year["quotas"]] == ["Whole unit", "Một cửa"]
    assert year["grades"]["HTXSNV"] == 2 and year["grades"]["HTTNV"] == 8


def test_the_unit_year_without_post_groups_is_one_group(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        unit_with_averages(store, [96, 94, 92, 90, 85, 80, 75, 70, 65, 60], [None] * 10)
        year = annual.unit_year(store.db, "Q", 2026, HANOI, today=date(2026, 2, 10))
    finally:
        store.close()
    rows = {row["officer"]["id"]: row for row in year["officers"]}
    assert rows["Q4"]["grade_by_points"]["code"] == "HTXSNV"
    assert rows["Q4"]["grade"]["code"] == "HTTNV" and rows["Q4"]["quota_note"]
    (quota,) = year["quotas"]
    assert (quota["label"]["vi"], quota["cap"], quota["demoted"]) == ("Cả đơn vị", 3, 1)
    assert year["grades"]["HTXSNV"] == 3


def test_the_year_xlsx_shows_both_grades_the_notes_and_the_quota_lines(tmp_path):
    store = Store(tmp_path / "hailong.db")
    try:
        unit_with_averages(store, [96, 94, 92, 90, 85, 80, 75, 70, 65, 60], [None] * 10)
        year = annual.unit_year(store.db, "Q", 2026, HANOI, today=date(2026, 2, 10))
    finally:
        store.close()
    path = tmp_path / "nam.xlsx"
    export_xlsx.annual_xlsx(year, path)
    sheet = openpyxl.load_workbook(path)["Năm 2026"]
    columns = {sheet.cell(row=6, column=c).value: c for c in range(1, sheet.max_column + 1)}
    row = next(r for r in range(8, sheet.max_row + 1)
               if sheet.cell(row=r, column=columns["Mã cán bộ"]).value == "Q4")

    def value(name):
        return sheet.cell(row=row, column=columns[name]).value

    assert (value("Xếp loại theo điểm"), value("Xếp loại năm")) == (
        "Hoàn thành xuất sắc nhiệm vụ (A)", "Hoàn thành tốt nhiệm vụ (B)")
    assert value("Ghi chú về tỷ lệ").startswith("Điểm bình quân 90 đạt loại")
    texts = [sheet.cell(row=r, column=1).value for r in range(8, sheet.max_row + 1)]
    assert year["quotas"][0]["vi"] in texts and year["quotas"][0]["en"] in texts
