"""The quota per group of similar posts outside the pages (issue 12): the unit's XLSX month sheet
and `hailong evaluation status` give one line per group, not only the unit's headline line.

Worked example (decree-335: "excellent" for at most floor(20 % × those rated "good") within a
group). Unit W (head H, in the default group, not graded):
- "Một cửa": MC1–MC5 decided "good" → 5 rated, base 5, cap floor(0.2 × 5) = 1, 0 excellent:
  within;
- "Chuyên môn": CM1–CM3 decided "good", CM4 decided "excellent" (acknowledged) → 4 rated,
  base 3, cap floor(0.2 × 3) = 0, 1 excellent: 1 over;
- "Cả đơn vị" (H): on the month's report nobody graded → 0 rated, base 0, cap 0; in the
  workflow's status H counts at the best case ("good") → 1 rated, base 1, cap 0, provisional.
Lines in order: the default group, then "Chuyên môn", then "Một cửa" (Vietnamese order).
"""

from __future__ import annotations

import openpyxl
import pytest

from collector.cli.main import main
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import export_xlsx
from collector.evaluation import month as monthly
from collector.evaluation.policy import load_preset
from collector.evaluation.workflow.steps import WorkflowService, local_today
from test_post_groups import DECREE as SCORES
from test_post_groups import PAST, build_org, grade

POLICY = load_preset("decree-335")
EXCELLENT = "«Hoàn thành xuất sắc nhiệm vụ»"
GOOD = "số được xếp loại Hoàn thành tốt nhiệm vụ"
CM_VI = ("Nhóm vị trí việc làm «Chuyên môn»: Cảnh báo: vượt tỷ lệ 1 người. 1 đã quyết định "
         f"{EXCELLENT}; tối đa 20 % × 3 ({GOOD}) = 0 (làm tròn xuống); 4 người được đánh giá. "
         "Thủ trưởng quyết định.")
CM_EN = ("Post group “Chuyên môn”: Warning: 1 over the quota. 1 decided “Excellent”; at most "
         "20% × 3 (those rated good) = 0 (rounded down); 4 rated. The head decides.")
MC_VI = (f"Nhóm vị trí việc làm «Một cửa»: Trong tỷ lệ. 0 người {EXCELLENT}; tối đa 20 % × 5 "
         f"({GOOD}) = 1 (làm tròn xuống); 5 người được đánh giá.")
DEFAULT_MONTH_VI = (f"Cả đơn vị: Trong tỷ lệ. 0 người {EXCELLENT}; tối đa 20 % × 0 ({GOOD}) = 0 "
                    "(làm tròn xuống); 0 người được đánh giá.")
DEFAULT_STATUS_VI = (f"Cả đơn vị: Trong tỷ lệ. 0 người {EXCELLENT}; tối đa 20 % × 1 ({GOOD}) "
                     "= 0 (làm tròn xuống); 1 người được đánh giá. Tạm tính: 1 người chưa được "
                     "xếp loại, được tính là «Hoàn thành tốt nhiệm vụ» (trường hợp thuận lợi "
                     "nhất); kết quả chỉ chính thức khi mọi người đã được xếp loại.")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    path = tmp_path_factory.mktemp("groups") / "hailong.db"
    store = Store(path)
    try:
        build_org(store, mc=5, cm=4)
        service = WorkflowService(store, POLICY)
        for officer in ("MC1", "MC2", "MC3", "MC4", "MC5", "CM1", "CM2", "CM3"):
            grade(service, PAST, officer, "HTTNV", SCORES)
        grade(service, PAST, "CM4", "HTXSNV", SCORES, acknowledge=True)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def report(graded):
    db = open_reader(graded)
    try:
        return monthly.unit_month(db, "W", PAST, POLICY, now_ms=0, today=local_today())
    finally:
        db.conn.close()


def test_the_report_has_the_three_lines_worked_by_hand(report):
    assert [(q["post_group"], q["rated"], q["base"], q["cap"], q["proposed"], q["over_by"])
            for q in report["quotas"]] == [(None, 0, 0, 0, 0, 0), ("Chuyên môn", 4, 3, 0, 1, 1),
                                           ("Một cửa", 5, 5, 1, 0, 0)]


def test_the_xlsx_month_sheet_lists_one_line_per_group(report, tmp_path):
    path = tmp_path / "thang.xlsx"
    export_xlsx.unit_month_xlsx(report, path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    cells = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=1)
             for r in range(1, sheet.max_row + 1) if sheet.cell(row=r, column=1).value}
    texts = list(cells)
    heading = texts.index("Tỷ lệ xếp loại (theo quyết định, chưa quyết định thì theo đề xuất), "
                          "theo nhóm vị trí việc làm tương đồng:")
    assert texts[heading + 1] == ("Quota (decided, else proposed), per group of similar "
                                  "posts:")
    assert texts[heading + 2:heading + 8] == [
        DEFAULT_MONTH_VI,
        "Whole unit: Within the quota. none “Excellent”; at most 20% × 0 (those rated good) "
        "= 0 (rounded down); 0 rated.",
        CM_VI, CM_EN, MC_VI,
        "Post group “Một cửa”: Within the quota. none “Excellent”; at most 20% × 5 (those "
        "rated good) = 1 (rounded down); 5 rated."]
    # The group over its cap stands out as the unit's warning does.
    assert cells[CM_VI].font.color.rgb.endswith("B3261E")
    assert cells[MC_VI].font.color.rgb.endswith("1B2330")
    # The decisions-only line and the progress follow, as with one group.
    assert texts[heading + 8].startswith("Tỷ lệ xếp loại (theo quyết định): ")
    assert texts[-2].startswith("Tiến độ: 10 cán bộ;")


def test_one_group_keeps_the_single_line(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    try:
        build_org(store, mc=0, cm=0)
    finally:
        store.close()
    db = open_reader(path)
    try:
        one = monthly.unit_month(db, "W", PAST, POLICY, now_ms=0, today=local_today())
    finally:
        db.conn.close()
    assert len(one["quotas"]) == 1
    export_xlsx.unit_month_xlsx(one, tmp_path / "one.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "one.xlsx").worksheets[0]
    texts = [str(sheet.cell(row=r, column=1).value or "") for r in range(1, sheet.max_row + 1)]
    assert not any("theo nhóm vị trí việc làm tương đồng" in t for t in texts)
    assert any(t.startswith("Tỷ lệ xếp loại (theo quyết định, chưa quyết định thì "
                            "theo đề xuất): Trong tỷ lệ.") for t in texts)


def test_the_command_line_prints_one_line_per_group(graded, capsys):
    assert main(["evaluation", "status", "--db", str(graded), "--unit", "W", "--month", PAST,
                 "--policy", "decree-335"]) == 0
    out = capsys.readouterr().out
    tail = out[out.index("Tỷ lệ xếp loại theo nhóm vị trí việc làm tương đồng / Quota per "
                         "group of similar posts:"):].splitlines()
    assert tail[1:] == [
        f"- {DEFAULT_STATUS_VI}",
        "  Whole unit: Within the quota. none “Excellent”; at most 20% × 1 (those rated good) "
        "= 0 (rounded down); 1 rated. Provisional: 1 not graded yet, counted as “Good” (the "
        "most favourable case); final once everyone is graded.",
        f"- {CM_VI}", f"  {CM_EN}", f"- {MC_VI}",
        "  Post group “Một cửa”: Within the quota. none “Excellent”; at most 20% × 5 (those "
        "rated good) = 1 (rounded down); 5 rated."]


def test_the_command_line_with_one_group_prints_the_unit_line(tmp_path, capsys):
    path = tmp_path / "hailong.db"
    store = Store(path)
    try:
        build_org(store, mc=0, cm=0)
    finally:
        store.close()
    assert main(["evaluation", "status", "--db", str(path), "--unit", "W", "--month", PAST,
                 "--policy", "decree-335"]) == 0
    out = capsys.readouterr().out
    assert "theo nhóm vị trí việc làm tương đồng" not in out
    assert out.rstrip().splitlines()[-2].startswith("Trong tỷ lệ. 0 người")
