"""The year's grade with its quota check (issue 12), expected numbers worked by hand.

Both presets cap the top grade (HTXSNV) for the year as for each month (`[year] apply_quota`):
hanoi-3814 at floor(30 % × everyone rated), 40 % in an outstanding unit; decree-335 at
floor(20 % × those rated good). The check runs per group of similar posts (the officer's
`post_group`; none = the whole unit) of the unit whose head decides the officer: one pool per
(deciding unit, group), with that unit's own "outstanding" flag, whatever unit is asked for.
Where the candidates exceed the cap, they keep the top grade in order of their exact average,
highest first; the rest get the grade below it. Under decree-335 those moved down are then
rated good and join the base: the cap is the largest number of excellent that the year's
grades, as they end, allow (k ≤ floor(20 % × (good + those moved down))). A tie at the
cap's boundary is the head's to break.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import openpyxl

from collector.accounts.permissions import officer_facts
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


def in_unit(rows, unit_id="Q", name="Phường Q", outstanding=False):
    """Every row's officer decided by the head of one unit: officer id → their pool's unit."""
    unit = annual.QuotaUnit(unit_id, name, outstanding)
    return {row["officer"]["id"]: unit for row in rows}


def graded(policy, averages, *, outstanding=False, groups=None):
    """Run the quota over officers P1.. of "Phường Q" with these averages; officer id → row,
    and quotas."""
    groups = groups or [None] * len(averages)
    rows = [officer(policy, f"P{i}", *(a if isinstance(a, tuple) else (a,)), group=g)
            for i, (a, g) in enumerate(zip(averages, groups), start=1)]
    rows, quotas = annual.year_quota(policy, rows, in_unit(rows, outstanding=outstanding))
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
    # Not a candidate for the quota: nothing moved, and the year says in which pool it is
    # judged (O1 of Phường Hoàn Kiếm, decided by its head).
    assert year["quota_note"] is None and not year["quota_tie"]
    assert year["quota_pool"] == {"unit_id": "W1", "unit_name": "Phường Hoàn Kiếm", "group": None,
                                  "label": {"vi": "Phường Hoàn Kiếm — Cả đơn vị",
                                            "en": "Phường Hoàn Kiếm — Whole unit"}}
    assert year["quota"]["unit_id"] == "W1" and year["quota"]["candidates"] == 0


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
    assert (quota["unit_id"], quota["unit_name"], quota["group"]) == ("Q", "Phường Q", None)
    assert quota["label"] == {"vi": "Phường Q — Cả đơn vị", "en": "Phường Q — Whole unit"}
    assert (quota["rated"], quota["candidates"], quota["base"], quota["cap"]) == (8, 3, 7, 1)
    assert (quota["kept"], quota["demoted"], quota["tied"], quota["exceeded"]) == (1, 2, 0, True)
    assert rows["P2"]["quota_note"]["vi"] == (
        "Điểm bình quân 93 đạt loại «Hoàn thành xuất sắc nhiệm vụ» nhưng vượt tỷ lệ của nhóm "
        "«Phường Q — Cả đơn vị» (1 suất: tối đa 20 % × 7 = 1, làm tròn xuống): xếp loại «Hoàn "
        "thành tốt nhiệm vụ»")
    assert rows["P2"]["quota_note"]["en"] == (
        "The average 93 reaches “Excellent” but exceeds the quota of group “Phường Q — Whole "
        "unit” "
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
    rows, (quota,) = annual.year_quota(DECREE, rows, in_unit(rows))
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
        "Nhóm «Phường Q — Cả đơn vị»: 4 người đạt loại «Hoàn thành xuất sắc nhiệm vụ» theo điểm "
        "bình quân, vượt tỷ lệ: tối đa 30 % × 10 (số được đánh giá) = 3 (làm tròn xuống); giữ 3 "
        "người có điểm bình quân cao nhất, 1 người xếp loại «Hoàn thành tốt nhiệm vụ»")
    # An outstanding unit: floor(0.4 × 10) = 4, all four keep A.
    rows, (quota,) = graded(HANOI, averages, outstanding=True)
    assert [codes(rows)[f"P{i}"] for i in range(1, 5)] == ["HTXSNV"] * 4
    assert (quota["cap"], quota["exceeded"], rows["P4"]["quota_note"]) == (4, False, None)
    assert quota["vi"].startswith("Nhóm «Phường Q — Cả đơn vị»: trong tỷ lệ")
    assert (quota["outstanding"], quota["share"]) == (True, 0.4)


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
        "Điểm bình quân 91 bằng người khác ở ranh giới tỷ lệ của nhóm «Phường Q — Cả đơn vị» "
        "(còn 1 suất cho 2 người): hailong không phân định, thủ trưởng quyết định")
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
        (None, "Phường Q — Cả đơn vị", 5, 1, 0), ("Một cửa", "Phường Q — Một cửa", 5, 1, 2)]
    assert "«Phường Q — Một cửa»" in rows["P2"]["quota_note"]["vi"]


def test_without_the_year_quota_nothing_moves():
    policy = replace(HANOI, year=replace(HANOI.year, apply_quota=False))
    rows, quotas = graded(policy, [96, 94, 92, 90, 85, 80, 75, 70, 65, 60])
    assert quotas == [] and codes(rows)["P4"] == "HTXSNV" and rows["P4"]["quota_note"] is None
    assert rows["P4"]["quota_pool"] is None


# --- through the unit's year ------------------------------------------------------------------

def unit_with_averages(store, averages, groups):
    # Q's head sits in the city above: Q's officers are decided by Q's head (their pool is Q's)
    # and the head, decided outside Q, is not in Q's list.
    upsert_unit(store.db, "TP", "Thành phố", None)
    upsert_officer(store.db, "QH", "Chủ tịch Q", "Chủ tịch", "TP")
    upsert_unit(store.db, "Q", "Phường Q", "TP", head_id="QH")
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
    assert [q["label"]["en"] for q in year["quotas"]] == ["Phường Q — Whole unit",
                                                          "Phường Q — Một cửa"]
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
    assert (quota["label"]["vi"], quota["cap"], quota["demoted"]) == ("Phường Q — Cả đơn vị", 3,
                                                                      1)
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
    # Where the quota is counted: the deciding unit and the group (its pool).
    assert value("Nhóm xét tỷ lệ") == "Phường Q — Cả đơn vị"
    texts = [sheet.cell(row=r, column=1).value for r in range(8, sheet.max_row + 1)]
    assert year["quotas"][0]["vi"] in texts and year["quotas"][0]["en"] in texts


# --- one pool per (deciding unit, group): the same grade whatever unit is asked for -------------

def decide_january(store, officer_id, score, grade=None, by="H0"):
    """A decided January, as steps.py stores it (the score follows the grade)."""
    grade = grade or ("HTXSNV" if score >= 90 else "HTTNV" if score >= 70 else "HTNV")
    store.db["evaluations"].upsert(
        {"officer_id": officer_id, "month": "2026-01", "final_grade": grade,
         "final_score": score, "decided_by": by, "decided_at": 1, "updated_at": 1},
        pk=("officer_id", "month"))


def build_city(store, officers, *, outstanding=()):
    """Thành phố (TP, head H0) over Phường A (head HA) and Phường B (head HB); each head sits in
    the unit they head. `officers`: (id, unit, group, January's score or None)."""
    units = [("TP", "Thành phố", None), ("A", "Phường A", "TP"), ("B", "Phường B", "TP")]
    for unit, name, parent in units:
        upsert_unit(store.db, unit, name, parent)
    for officer_id, unit, group, score in officers:
        upsert_officer(store.db, officer_id, f"Cán bộ {officer_id}", "Chuyên viên", unit,
                       post_group=group)
        if score is not None:
            decide_january(store, officer_id, score)
    heads = {"TP": "H0", "A": "HA", "B": "HB"}
    for unit, name, parent in units:
        upsert_unit(store.db, unit, name, parent, head_id=heads[unit],
                    outstanding=unit in outstanding)


FEB = date(2026, 2, 10)  # January is over


def by_id(report):
    return {row["officer"]["id"]: row for row in report["officers"]}


def lines(report):
    return {(q["unit_id"], q["group"]): q for q in report["quotas"]}


REVIEWERS_CITY = [("H0", "TP", None, 95), ("HA", "A", None, 85), ("HB", "B", None, 85),
                  ("X", "A", None, 95), ("Y", "A", None, 80), ("Z", "A", None, 80),
                  ("B1", "B", None, 80), ("B2", "B", None, 80), ("B3", "B", None, 80)]


def test_a_wards_officer_has_one_grade_asked_for_by_ward_or_by_city(tmp_path):
    # X, Y, Z (95, 80, 80) are decided by the head of Phường A: their pool is (A, whole unit)
    # whoever asks. 3 rated: cap floor(30 % × 3) = 0, so X's 95 is graded B — at ward level and
    # at city level alike (pooled with Phường B's 80, 80, 80, the city would have allowed
    # floor(30 % × 6) = 1 and X would have kept A: one officer, two grades).
    store = Store(tmp_path / "hailong.db")
    try:
        build_city(store, REVIEWERS_CITY)
        ward = annual.unit_year(store.db, "A", 2026, HANOI, today=FEB)
        city = annual.unit_year(store.db, "TP", 2026, HANOI, today=FEB)
        own = annual.officer_year(store.db, "X", 2026, HANOI, today=FEB)
    finally:
        store.close()
    for report in (ward, city):
        x = by_id(report)["X"]
        assert (x["grade_by_points"]["code"], x["grade"]["code"]) == ("HTXSNV", "HTTNV")
        assert x["quota_note"]["vi"] == (
            "Điểm bình quân 95 đạt loại «Hoàn thành xuất sắc nhiệm vụ» nhưng vượt tỷ lệ của nhóm "
            "«Phường A — Cả đơn vị» (0 suất: tối đa 30 % × 3 = 0, làm tròn xuống): xếp loại "
            "«Hoàn thành tốt nhiệm vụ»")
        a = lines(report)[("A", None)]
        assert (a["rated"], a["candidates"], a["cap"], a["demoted"]) == (3, 1, 0, 1)
    for officer_id in ("X", "Y", "Z", "HA"):
        assert by_id(ward)[officer_id]["grade"] == by_id(city)[officer_id]["grade"]
        assert by_id(ward)[officer_id]["quota_note"] == by_id(city)[officer_id]["quota_note"]
        assert by_id(ward)[officer_id]["quota_pool"] == by_id(city)[officer_id]["quota_pool"]
    # The officer's own year says the same grade, and the same note.
    assert (own["grade_by_points"]["code"], own["grade"]["code"]) == ("HTXSNV", "HTTNV")
    assert own["quota_note"] == by_id(city)["X"]["quota_note"]
    assert own["quota"] == lines(city)[("A", None)]
    # The ward's head HA is decided by the city's head: their pool is the city's, with Phường
    # B's head HB (85, 85: no candidate), listed on the ward's year as a pool it meets.
    assert by_id(ward)["HA"]["quota_pool"]["label"] == {"vi": "Thành phố — Cả đơn vị",
                                                        "en": "Thành phố — Whole unit"}
    assert [(q["unit_id"], q["group"], q["rated"]) for q in ward["quotas"]] == [
        ("A", None, 3), ("TP", None, 2)]
    assert [(q["unit_id"], q["rated"]) for q in city["quotas"]] == [
        ("A", 3), ("B", 3), ("TP", 2)]
    assert ward["grades"]["HTXSNV"] == 0 and ward["grades"]["HTTNV"] == 4


def test_the_top_units_head_has_no_pool_in_hailong(tmp_path):
    # H0 heads the city, the top of the organisation: nobody in hailong decides them, so no pool;
    # their grade is read from the points (95: A) and discipline, and a note says the quota is
    # checked outside hailong.
    store = Store(tmp_path / "hailong.db")
    try:
        build_city(store, REVIEWERS_CITY)
        city = annual.unit_year(store.db, "TP", 2026, HANOI, today=FEB)
        own = annual.officer_year(store.db, "H0", 2026, HANOI, today=FEB)
    finally:
        store.close()
    for row in (by_id(city)["H0"], own):
        assert (row["grade_by_points"]["code"], row["grade"]["code"]) == ("HTXSNV", "HTXSNV")
        assert row["quota_pool"] is None and not row["quota_tie"]
        assert "ngoài hailong" in row["quota_note"]["vi"]
        assert "outside hailong" in row["quota_note"]["en"]
    assert own["quota"] is None
    # Nobody else is in a pool with them: the city's pool holds the wards' heads only.
    assert lines(city)[("TP", None)]["rated"] == 2


def test_an_office_below_a_ward_is_pooled_with_the_wards_whole_group(tmp_path):
    # Bộ phận Một cửa (F1) has no head: its officers are decided by the head of Phường A, in
    # A's group «Một cửa»: F-1 (95, in F1) with 93, 91 and four 80 in A. 7 rated: cap
    # floor(30 % × 7) = 2: 95 and 93 keep A, 91 is graded B. Asked for alone, F1 would have
    # been a pool of 1 with cap floor(0.3) = 0, and F-1's 95 graded B.
    store = Store(tmp_path / "hailong.db")
    try:
        build_city(store, [("H0", "TP", None, None), ("HA", "A", None, None),
                           ("HB", "B", None, None),
                           ("A-1", "A", "Một cửa", 93), ("A-2", "A", "Một cửa", 91),
                           *[(f"A-{i}", "A", "Một cửa", 80) for i in range(3, 7)]])
        upsert_unit(store.db, "F1", "Bộ phận Một cửa", "A", kind="office")
        upsert_officer(store.db, "F-1", "Cán bộ F-1", "Chuyên viên", "F1", post_group="Một cửa")
        decide_january(store, "F-1", 95)
        office = annual.unit_year(store.db, "F1", 2026, HANOI, today=FEB)
        ward = annual.unit_year(store.db, "A", 2026, HANOI, today=FEB)
        own = annual.officer_year(store.db, "A-2", 2026, HANOI, today=FEB)
    finally:
        store.close()
    assert list(by_id(office)) == ["F-1"]
    f1 = by_id(office)["F-1"]
    assert f1["grade"]["code"] == "HTXSNV"
    assert f1["quota_note"]["vi"] == ("Giữ loại «Hoàn thành xuất sắc nhiệm vụ»: thứ 1 theo điểm "
                                      "bình quân trong nhóm «Phường A — Một cửa», trong 2 suất")
    (line,) = office["quotas"]
    assert (line["unit_id"], line["unit_name"], line["group"]) == ("A", "Phường A", "Một cửa")
    assert (line["rated"], line["candidates"], line["cap"], line["kept"], line["demoted"]) == (
        7, 3, 2, 2, 1)
    assert by_id(ward)["F-1"] == f1
    assert [by_id(ward)[o]["grade"]["code"] for o in ("A-1", "A-2")] == ["HTXSNV", "HTTNV"]
    assert own["grade"]["code"] == "HTTNV" and own["quota"] == line


def test_each_pool_has_its_own_units_outstanding_flag(tmp_path):
    # Phường A is outstanding, Phường B and the city are not. Each ward: 95, 93, 80, 80, 80.
    # A: floor(40 % × 5) = 2, both keep A. B: floor(30 % × 5) = 1, 93 is graded B. Asked for
    # at city level, each ward's pool keeps its own flag (not the city's).
    store = Store(tmp_path / "hailong.db")
    try:
        officers = [("H0", "TP", None, None), ("HA", "A", None, None), ("HB", "B", None, None)]
        for ward in ("A", "B"):
            officers += [(f"{ward}1", ward, None, 95), (f"{ward}2", ward, None, 93)]
            officers += [(f"{ward}{i}", ward, None, 80) for i in range(3, 6)]
        build_city(store, officers, outstanding={"A"})
        city = annual.unit_year(store.db, "TP", 2026, HANOI, today=FEB)
        ward_b = annual.unit_year(store.db, "B", 2026, HANOI, today=FEB)
    finally:
        store.close()
    rows = by_id(city)
    assert [rows[o]["grade"]["code"] for o in ("A1", "A2", "B1", "B2")] == [
        "HTXSNV", "HTXSNV", "HTXSNV", "HTTNV"]
    a, b = lines(city)[("A", None)], lines(city)[("B", None)]
    assert (a["outstanding"], a["share"], a["cap"]) == (True, 0.4, 2)
    assert (b["outstanding"], b["share"], b["cap"]) == (False, 0.3, 1)
    assert lines(ward_b)[("B", None)] == b
    # The heads HA and HB were not decided in January: not rated, the city's pool is empty.
    assert lines(city)[("TP", None)]["rated"] == 0


def test_the_pools_unit_is_the_one_whose_head_decides(tmp_path):
    # A tree with the awkward cases: an office without a head (U1), a person heading two nested
    # units and sitting in the lower one (K heads U2 and U3, sits in U3), a head sitting
    # outside the unit they head (M heads U4, sits in R). The pool's unit of every officer is
    # permissions.officer_facts' deciding unit, and a pool counts the same members asked for
    # from any unit.
    store = Store(tmp_path / "hailong.db")
    try:
        tree = [("R", None), ("U1", "R"), ("U2", "U1"), ("U3", "U2"), ("U4", "U3")]
        for unit, parent in tree:
            upsert_unit(store.db, unit, f"Đơn vị {unit}", parent)
        people = [("RH", "R"), ("a", "R"), ("b", "U1"), ("K", "U3"), ("c", "U3"), ("d", "U4"),
                  ("M", "R"), ("e", "U2")]
        for officer_id, unit in people:
            upsert_officer(store.db, officer_id, f"Cán bộ {officer_id}", "Chuyên viên", unit)
            decide_january(store, officer_id, 80, by="RH")
        for unit, parent, head in [("R", None, "RH"), ("U2", "U1", "K"), ("U3", "U2", "K"),
                                   ("U4", "U3", "M")]:
            upsert_unit(store.db, unit, f"Đơn vị {unit}", parent, head_id=head)
        facts = {o: officer_facts(store.db, o).deciding_unit for o, _ in people}
        reports = {unit: annual.unit_year(store.db, unit, 2026, HANOI, today=FEB)
                   for unit, _ in tree}
        owns = {o: annual.officer_year(store.db, o, 2026, HANOI, today=FEB) for o, _ in people}
    finally:
        store.close()
    # Worked by hand: RH tops the tree; a, b (U1 has no head), K (heads U2 and U3: up to R) and
    # M (sits in R) are decided by RH; c and e by K in U3 and U2; d by M in U4.
    assert facts == {"RH": None, "a": "R", "b": "R", "K": "R", "M": "R", "c": "U3", "e": "U2",
                     "d": "U4"}
    root = by_id(reports["R"])
    assert {o: (row["quota_pool"] or {}).get("unit_id") for o, row in root.items()} == facts
    assert {o: (own["quota_pool"] or {}).get("unit_id") for o, own in owns.items()} == facts
    rated = {key: line["rated"] for key, line in lines(reports["R"]).items()}
    assert rated == {("R", None): 4, ("U2", None): 1, ("U3", None): 1, ("U4", None): 1}
    for unit, report in reports.items():
        for key, line in lines(report).items():
            assert line["rated"] == rated[key], (unit, key)


def test_a_unit_year_reads_in_bulk(tmp_path):
    # The number of SQL statements of a unit's year does not grow with its officers: 3 or 30
    # officers in two wards, the same count.
    def statements(per_ward):
        store = Store(tmp_path / f"hailong-{per_ward}.db")
        try:
            build_city(store, [("H0", "TP", None, 90), ("HA", "A", None, 85),
                               ("HB", "B", None, 85)]
                       + [(f"{w}{i}", w, "Một cửa" if i % 2 else None, 80 + i % 15)
                          for w in ("A", "B") for i in range(per_ward)])
            seen = []
            store.db.conn.set_trace_callback(seen.append)
            annual.unit_year(store.db, "A", 2026, HANOI, today=FEB)
            annual.unit_year(store.db, "TP", 2026, HANOI, today=FEB)
            annual.officer_year(store.db, "A1", 2026, HANOI, today=FEB)
            store.db.conn.set_trace_callback(None)
            return len(seen)
        finally:
            store.close()

    assert statements(3) == statements(30)
