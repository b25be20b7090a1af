"""collector/evaluation/snapshot_changes.py: a decided month's frozen evidence against today's."""

from __future__ import annotations

from collector.evaluation.snapshot_changes import changes

GOOD = {"code": "HTTNV", "vi": "Hoàn thành tốt nhiệm vụ", "en": "Good"}
DONE = {"code": "HTNV", "vi": "Hoàn thành nhiệm vụ", "en": "Satisfactory"}


def month(total=42, index=80.0, share=0.8, score=75.0, grade=GOOD, **tasks):
    return {"satisfaction": {"total": total, "index": index, "share_satisfied": share,
                             "filtered": {"total": 0},
                             "coverage": {"duty_hours": 8.0, "online_hours": 6.0}},
            "tasks": {"summary": {"registered": 4, "on_time": 1, "late": 2, "overdue": 1,
                                  "excused": 1, **tasks},
                      "percentages": {"quantity": 80.0, "quality": 75.0, "progress": 75.0}},
            "suggestion": {"score": score, "grade": grade}}


def test_no_snapshot_or_no_difference_gives_no_lines():
    assert changes(None, month()) == []
    assert changes(month(), month()) == []


def test_differences_below_display_precision_are_not_changes():
    assert changes(month(index=80.0, share=0.8, score=75.0),
                   month(index=80.04, share=0.80049, score=75.004)) == []


def test_one_line_per_changed_field_in_both_languages():
    lines = changes(month(), month(total=45, index=None, score=70.5, grade=DONE, overdue=2))
    assert [(line["vi"], line["en"]) for line in lines] == [
        ("Lượt đánh giá: 42 → 45", "Ratings: 42 → 45"),
        ("Chỉ số hài lòng: 80,0 → —", "Satisfaction index: 80.0 → —"),
        ("Nhiệm vụ quá hạn: 1 → 2", "Tasks overdue: 1 → 2"),
        ("Điểm gợi ý: 75,00 → 70,50", "Suggested score: 75.00 → 70.50"),
        ("Xếp loại gợi ý: Hoàn thành tốt nhiệm vụ → Hoàn thành nhiệm vụ",
         "Suggested grade: Good → Satisfactory")]
    assert lines[0]["field"] == "satisfaction.total"


def test_a_partial_snapshot_compares_only_what_it_holds():
    assert [line["en"] for line in changes({"satisfaction": {"total": 38}}, month())] == [
        "Ratings: 38 → 42"]
