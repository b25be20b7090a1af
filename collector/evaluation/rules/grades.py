"""The four grades of every decree, best first."""

# The four levels of every decree, best first (domain brief, "Grades"); the codes are fixed by
# law, their thresholds and letters are policy.
GRADES = (
    ("HTXSNV", "Hoàn thành xuất sắc nhiệm vụ", "Excellent"),
    ("HTTNV", "Hoàn thành tốt nhiệm vụ", "Good"),
    ("HTNV", "Hoàn thành nhiệm vụ", "Completed"),
    ("KHTNV", "Không hoàn thành nhiệm vụ", "Not completed"),
)
GRADE_CODES = tuple(code for code, _, _ in GRADES)
GRADE_LABELS = {code: (vi, en) for code, vi, en in GRADES}
