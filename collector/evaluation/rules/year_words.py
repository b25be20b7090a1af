"""The words of the year's quota, one pool at a time: the notes on the officers it keeps, moves
down or leaves tied, and the pool's summary line (collector/evaluation/year.py applies the
quota; the arithmetic is rules/quota.py's). Pure, bilingual, numbers as glossary-vi.md writes
them.
"""

from __future__ import annotations

from collector.evaluation.rules.decision import score_text
from collector.evaluation.rules.grades import GRADE_CODES, GRADE_LABELS
from collector.evaluation.rules.quota import QuotaCheck, QuotaRule


class QuotaWords:
    """The bilingual lines of one pool's year quota. `rule`: the quota (the policy's),
    `decimals`: the scores', `check`: the pool's count as it ends, `label`: the pool's
    ({vi, en}), `places`: how many keep the top grade."""

    def __init__(self, rule: QuotaRule, decimals: int, check: QuotaCheck,
                 label: dict[str, str], places: int):
        self.rule, self.decimals = rule, decimals
        self.check, self.label, self.places = check, label, places
        self.top = GRADE_LABELS[rule.grade]
        share_vi, share_en = score_text(check.share * 100, 2)
        self.formula = (f"tối đa {share_vi} % × {check.base} = {check.cap}",
                        f"at most {share_en}% × {check.base} = {check.cap}")

    def _average(self, average: float) -> tuple[str, str]:
        return score_text(average, self.decimals)

    def kept(self, rank: int) -> dict[str, str]:
        (top_vi, top_en), (g_vi, g_en) = self.top, (self.label["vi"], self.label["en"])
        return {"vi": f"Giữ loại «{top_vi}»: thứ {rank} theo điểm bình quân trong nhóm «{g_vi}», "
                      f"trong {self.places} suất",
                "en": f"Keeps “{top_en}”: number {rank} by average in group “{g_en}”, within "
                      f"{_places_en(self.places)}"}

    def moved(self, average: float, below: str) -> dict[str, str]:
        (top_vi, top_en), (low_vi, low_en) = self.top, GRADE_LABELS[below]
        a_vi, a_en = self._average(average)
        f_vi, f_en = self.formula
        return {"vi": f"Điểm bình quân {a_vi} đạt loại «{top_vi}» nhưng vượt tỷ lệ của nhóm "
                      f"«{self.label['vi']}» ({self.places} suất: {f_vi}, làm tròn xuống): "
                      f"xếp loại «{low_vi}»",
                "en": f"The average {a_en} reaches “{top_en}” but exceeds the quota of group "
                      f"“{self.label['en']}” ({_places_en(self.places)}: {f_en}, rounded "
                      f"down): graded “{low_en}”"}

    def tied(self, average: float, left: int, tied: int) -> dict[str, str]:
        a_vi, a_en = self._average(average)
        return {"vi": f"Điểm bình quân {a_vi} bằng người khác ở ranh giới tỷ lệ của nhóm "
                      f"«{self.label['vi']}» (còn {left} suất cho {tied} người): hailong không "
                      "phân định, thủ trưởng quyết định",
                "en": f"The average {a_en} equals another's at the boundary of the quota of "
                      f"group “{self.label['en']}” ({_places_en(left)} left for {tied}): "
                      "hailong does not choose, the head decides"}

    def summary(self, candidates: int, kept: int, moved: int, tied: int,
                below: str | None) -> dict[str, str]:
        top_vi, top_en = self.top
        of_grades = self.rule.of_grades
        if set(of_grades) == set(GRADE_CODES):
            of_vi, of_en = "số được đánh giá", "those rated"
        else:
            names = [GRADE_LABELS[code] for code in of_grades]
            of_vi = "số được xếp loại " + ", ".join(vi for vi, _ in names)
            of_en = "those rated " + ", ".join(en.lower() for _, en in names)
            if below in of_grades and (moved or tied):
                of_vi += ", kể cả người chuyển xuống"
                of_en += ", those moved down included"
        base = self.check
        share_vi, share_en = score_text(base.share * 100, 2)
        cap_vi = f"tối đa {share_vi} % × {base.base} ({of_vi}) = {base.cap} (làm tròn xuống)"
        cap_en = f"at most {share_en}% × {base.base} ({of_en}) = {base.cap} (rounded down)"
        head_vi, head_en = f"Nhóm «{self.label['vi']}»: ", f"Group “{self.label['en']}”: "
        reach_vi = f"{candidates} người đạt loại «{top_vi}» theo điểm bình quân"
        reach_en = f"{candidates} reach “{top_en}” by their average"
        if not (moved or tied):
            return {"vi": f"{head_vi}trong tỷ lệ. {reach_vi}; {cap_vi}",
                    "en": f"{head_en}within the quota. {reach_en}; {cap_en}"}
        vi = f"{head_vi}{reach_vi}, vượt tỷ lệ: {cap_vi}"
        en = f"{head_en}{reach_en}, over the quota: {cap_en}"
        # Who keeps it and who is moved down, each said only when there is someone to name
        # (a tie can leave nobody clearly keeping it: "giữ 0 người" says nothing).
        outcome_vi = [f"giữ {kept} người có điểm bình quân cao nhất"] if kept else []
        outcome_en = [f"{kept} with the highest average {'keeps' if kept == 1 else 'keep'} "
                      "it"] if kept else []
        if moved and below:
            low_vi, low_en = GRADE_LABELS[below]
            outcome_vi.append(f"{moved} người xếp loại «{low_vi}»")
            outcome_en.append(f"{moved} graded “{low_en}”")
        if outcome_vi:
            vi += "; " + ", ".join(outcome_vi)
            en += "; " + ", ".join(outcome_en)
        if tied:
            vi += (f"; {tied} người bằng điểm bình quân ở ranh giới tỷ lệ (còn {self.places - kept}"
                   " suất): thủ trưởng quyết định")
            en += (f"; {tied} tied on their average at the boundary "
                   f"({_places_en(self.places - kept)} left): the head decides")
        return {"vi": vi, "en": en}


def _places_en(n: int) -> str:
    return f"{n} place" if n == 1 else f"{n} places"
