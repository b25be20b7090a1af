"""The unit's year page (/years/{year}) and the officer's own year on /me (issue 12).

A small world under decree-335, decided month by month from January to March 2026 and seen on
10 April 2026. Expected figures are worked by hand from docs/evaluation.md "The year":

Each officer's year is counted in their pool: (the unit whose head decides them, their group).

- UBND phường Xuân La (px): the group «Một cửa» of 8 — averages 95, 93, 91 (excellent by
  points) and 80, 78, 76, 74, 72 (good). The cap is floor(20 % × good): keeping 2 moves 1 down,
  base 6, floor(1.2) = 1 < 2; keeping 1 moves 2 down, base 7, floor(1.4) = 1 ≥ 1. So 95 keeps
  excellent, 93 and 91 are graded good. Vũ Thị Yến, in no group (the whole unit), has January
  and February decided at 85 and March not yet. The ward's head (88, «Lãnh đạo») is decided by
  the city's head: alone in the pool «UBND thành phố Sơn Hà — Lãnh đạo».
- UBND phường Yên Phụ (py), one group: two officers at exactly 92 and four good; its head (80)
  is in the city's pool «UBND thành phố Sơn Hà — Cả đơn vị». Keeping 1 moves 1 down: base 5,
  floor(1.0) = 1; the first and the second place have the same average, so hailong does not
  choose: both stay, marked as a tie for the head.
- The city's head (90) tops the organisation: nobody in hailong decides them, so no pool, and a
  note says the quota is checked outside hailong.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from accounts_support import token_headers
from fastapi.testclient import TestClient
from test_pages_leaders import by_testid, page

from collector.app import create_app
from collector.core.settings import Settings
from collector.core.timeline import LOCAL_TZ
from collector.db.store import Store
from collector.evaluation.policy import PRESETS_DIR
from collector.org.organisation import upsert_officer, upsert_unit
from collector.web import deps

TODAY = date(2026, 4, 10)  # January to March 2026 are over
NOW = int(datetime(2026, 4, 10, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
MONTHS = ("2026-01", "2026-02", "2026-03")
TEMPLATES = Path(__file__).resolve().parent.parent / "dashboard" / "templates"
EXCELLENT, GOOD = "Hoàn thành xuất sắc nhiệm vụ", "Hoàn thành tốt nhiệm vụ"

UNITS = [("tp", "UBND thành phố Sơn Hà", None), ("px", "UBND phường Xuân La", "tp"),
         ("py", "UBND phường Yên Phụ", "tp")]
HEADS = {"tp": "TP-H", "px": "PX-H", "py": "PY-H"}
# officer, name, unit, group of similar posts, the score decided in each month (None: not yet)
OFFICERS = [
    ("TP-H", "Phan Văn Thắng", "tp", None, (90, 90, 90)),
    ("PX-H", "Đặng Quang Tùng", "px", "Lãnh đạo", (88, 88, 88)),
    ("PX-01", "Nguyễn Văn An", "px", "Một cửa", (95, 95, 95)),
    ("PX-02", "Trần Thị Bình", "px", "Một cửa", (93, 93, 93)),
    ("PX-03", "Lê Văn Cường", "px", "Một cửa", (91, 91, 91)),
    ("PX-04", "Phạm Thị Dung", "px", "Một cửa", (80, 80, 80)),
    ("PX-05", "Hoàng Văn Giang", "px", "Một cửa", (78, 78, 78)),
    ("PX-06", "Đỗ Thị Hà", "px", "Một cửa", (76, 76, 76)),
    ("PX-07", "Bùi Văn Khánh", "px", "Một cửa", (74, 74, 74)),
    ("PX-08", "Ngô Thị Linh", "px", "Một cửa", (72, 72, 72)),
    ("PX-09", "Vũ Thị Yến", "px", None, (85, 85, None)),
    ("PY-H", "Trịnh Văn Sơn", "py", None, (80, 80, 80)),
    ("PY-01", "Mai Thị Hoa", "py", None, (92, 92, 92)),
    ("PY-02", "Lý Văn Hưng", "py", None, (92, 92, 92)),
    ("PY-03", "Cao Thị Lan", "py", None, (80, 80, 80)),
    ("PY-04", "Hồ Văn Minh", "py", None, (78, 78, 78)),
    ("PY-05", "Tạ Thị Nga", "py", None, (76, 76, 76)),
    ("PY-06", "Lương Văn Phúc", "py", None, (74, 74, 74)),
]
# login → (role, officer record)
ACCOUNTS = {"chutich.px": ("head", "PX-H"), "chutich.py": ("head", "PY-H"),
            "canbo.px2": ("officer", "PX-02"), "admin": ("administrator", None),
            "tech": ("technician", None)}


def band(score: float) -> str:
    """decree-335's bands: the grade each month was decided at (its score follows it)."""
    return "HTXSNV" if score >= 90 else "HTTNV" if score >= 70 else "HTNV"


def build(path: Path, periods: tuple[str, ...] = MONTHS) -> None:
    """The world, each officer's scores decided in `periods` (quarters under a quarterly
    policy), stored as collector/evaluation/workflow/steps.py leaves a decision."""
    store = Store(path)
    try:
        for unit, name, parent in UNITS:
            upsert_unit(store.db, unit, name, parent, kind="ward" if parent else None)
        for officer, name, unit, group, _ in OFFICERS:
            upsert_officer(store.db, officer, name, "Chuyên viên", unit, post_group=group)
        for unit, name, parent in UNITS:
            upsert_unit(store.db, unit, name, parent, kind="ward" if parent else None,
                        head_id=HEADS.get(unit))
        for officer, _, unit, group, scores in OFFICERS:
            for period, score in zip(periods, scores):
                if score is None:
                    continue
                store.db["evaluations"].insert({
                    "officer_id": officer, "month": period, "final_score": score,
                    "final_grade": band(score), "decided_by": HEADS[unit], "decided_at": NOW,
                    "unit_id": unit, "deciding_unit_id": unit, "post_group": group,
                    "updated_at": NOW})
    finally:
        store.close()
    for login, (role, officer) in ACCOUNTS.items():
        token_headers(path, login, role, officer=officer)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("year") / "hailong.db"
    build(path)
    return path


def make_app(path: Path, policy: str = "decree-335"):
    app = create_app(Settings(db_path=path, broker_url=None, policy=policy))
    app.dependency_overrides[deps.today] = lambda: TODAY
    app.dependency_overrides[deps.clock] = lambda: NOW
    return app


@pytest.fixture(scope="module")
def app(world):
    return make_app(world)


def as_user(app, path: Path, login: str) -> TestClient:
    role, officer = ACCOUNTS[login]
    return TestClient(app, headers=token_headers(path, login, role, officer=officer),
                      follow_redirects=False)


def rows_of(root) -> dict[str, list[str]]:
    """officer id → [name, group, periods counted, average, grade by points, grade, note]."""
    table = by_testid(root, "year-officers")
    return {tr.attrs["data-officer"]: [tr.one("th").text()] + [td.text() for td in tr.all("td")]
            for tr in table.all("tr") if "data-officer" in tr.attrs}


def quota_lines(root) -> dict[tuple[str, str], str]:
    """(deciding unit, group: "" for the whole unit) → the quota line shown, in the page's
    order."""
    return {(li.attrs["data-unit"], li.attrs["data-group"]): li.text()
            for li in by_testid(root, "year-quotas").all("li")}


# --- the rows and the quota -------------------------------------------------------------------

def test_one_row_per_officer_in_vietnamese_name_order(app, world):
    with as_user(app, world, "chutich.px") as client:
        root = page(client.get("/years/2026"))  # a head's year opens on their own unit
    rows = rows_of(root)
    # By given name, then the whole name: An, Bình, Cường, Dung, Giang, Hà, Khánh, Linh, Tùng, Yến.
    assert list(rows) == ["PX-01", "PX-02", "PX-03", "PX-04", "PX-05", "PX-06", "PX-07",
                          "PX-08", "PX-H", "PX-09"]
    assert rows["PX-04"][:6] == ["Phạm Thị Dung Chuyên viên", "Một cửa", "3/3", "80", GOOD,
                                 GOOD]
    assert rows["PX-04"][6] == ""  # within the quota: nothing to say
    # The ward's head is decided by the city's head: their pool is the city's, named in full.
    assert rows["PX-H"][1] == "UBND thành phố Sơn Hà — Lãnh đạo"
    # Two months counted of the three over; March is listed as missing, never as zero.
    assert rows["PX-09"][1:6] == ["Cả đơn vị", "2/3 Chưa quyết định: 03/2026", "85", GOOD,
                                  GOOD]
    assert [o.attrs["value"] for o in root.all("option") if "selected" in o.attrs] == ["px"]
    assert [o.attrs["value"] for o in root.all("option")] == ["px"]  # only the head's scope


def test_the_quota_per_group_keeps_one_excellent_of_three(app, world):
    with as_user(app, world, "chutich.px") as client:
        root = page(client.get("/years/2026?unit=px"))
    rows = rows_of(root)
    # 95 keeps excellent; 93 and 91 reach it by points and are graded good by the quota.
    assert [rows[o][4:6] for o in ("PX-01", "PX-02", "PX-03")] == [
        [EXCELLENT, EXCELLENT], [EXCELLENT, GOOD], [EXCELLENT, GOOD]]
    assert rows["PX-01"][6] == ("Giữ loại «Hoàn thành xuất sắc nhiệm vụ»: thứ 1 theo điểm "
                                "bình quân trong nhóm «UBND phường Xuân La — Một cửa», trong 1 "
                                "suất")
    assert rows["PX-02"][6] == (
        "Điểm bình quân 93 đạt loại «Hoàn thành xuất sắc nhiệm vụ» nhưng vượt tỷ lệ của nhóm "
        "«UBND phường Xuân La — Một cửa» (1 suất: tối đa 20 % × 7 = 1, làm tròn xuống): xếp "
        "loại «Hoàn thành tốt nhiệm vụ»")
    assert "Điểm bình quân 91" in rows["PX-03"][6]
    # One line per pool its officers are in: by the deciding unit's name, the whole unit
    # first, then the named groups in Vietnamese order; the head's pool is the city's.
    lines = quota_lines(root)
    assert list(lines) == [("px", ""), ("px", "Một cửa"), ("tp", "Lãnh đạo")]
    assert lines["px", "Một cửa"] == (
        "Nhóm «UBND phường Xuân La — Một cửa»: 3 người đạt loại «Hoàn thành xuất sắc nhiệm "
        "vụ» theo điểm bình quân, vượt tỷ lệ: tối đa 20 % × 7 (số được xếp loại Hoàn thành tốt "
        "nhiệm vụ, kể cả người chuyển xuống) = 1 (làm tròn xuống); giữ 1 người có điểm bình quân "
        "cao nhất, 2 người xếp loại «Hoàn thành tốt nhiệm vụ»")
    assert lines["px", ""] == (
        "Nhóm «UBND phường Xuân La — Cả đơn vị»: trong tỷ lệ. 0 người đạt loại «Hoàn thành "
        "xuất sắc nhiệm vụ» theo điểm bình quân; tối đa 20 % × 1 (số được xếp loại Hoàn thành "
        "tốt nhiệm vụ) = 0 (làm tròn xuống)")
    assert lines["tp", "Lãnh đạo"].startswith(
        "Nhóm «UBND thành phố Sơn Hà — Lãnh đạo»: trong tỷ lệ. 0 người đạt")
    over = [li for li in by_testid(root, "year-quotas").all("li") if "warning" in
            (li.attrs.get("class") or "")]
    assert [li.attrs["data-group"] for li in over] == ["Một cửa"]
    # After the quota: 1 excellent, 8 good (5 of «Một cửa», the head, Yến, and the 2 moved).
    summary = by_testid(root, "year-grades").text()
    assert f"{EXCELLENT}: 1" in summary and f"{GOOD}: 9" in summary


def test_the_same_in_english(app, world):
    with as_user(app, world, "chutich.px") as client:
        root = page(client.get("/years/2026?unit=px&lang=en"))
    rows = rows_of(root)
    assert rows["PX-02"][4:7] == [
        "Excellent", "Good",
        "The average 93 reaches “Excellent” but exceeds the quota of group “UBND phường Xuân La "
        "— Một cửa” (1 place: at most 20% × 7 = 1, rounded down): graded “Good”"]
    assert rows["PX-09"][1:3] == ["Whole unit", "2/3 Not decided: March 2026"]
    assert quota_lines(root)["px", "Một cửa"].endswith(
        "; 1 with the highest average keeps it, 2 graded “Good”")
    assert root.one("h1").text() == "UBND phường Xuân La"
    assert by_testid(root, "year-title").text().startswith("Year 2026")


def test_a_tie_at_the_boundary_is_marked_for_the_head(app, world):
    with as_user(app, world, "chutich.py") as client:
        root = page(client.get("/years/2026"))
    rows = rows_of(root)
    table = by_testid(root, "year-officers")
    tied = [tr.attrs["data-officer"] for tr in table.all("tr") if tr.all(data_testid="tie")]
    assert tied == ["PY-01", "PY-02"]  # Hoa, Hưng: both at exactly 92
    for officer in tied:  # neither is moved: the head decides between them
        assert rows[officer][4:6] == [EXCELLENT, EXCELLENT]
        assert rows[officer][6].endswith(
            "Điểm bình quân 92 bằng người khác ở ranh giới tỷ lệ của nhóm «UBND phường Yên Phụ — "
            "Cả đơn vị» (còn 1 suất cho 2 người): hailong không phân định, thủ trưởng quyết định")
    lines = quota_lines(root)
    assert list(lines) == [("py", ""), ("tp", "")]
    assert lines["py", ""] == (
        "Nhóm «UBND phường Yên Phụ — Cả đơn vị»: 2 người đạt loại «Hoàn thành xuất sắc nhiệm "
        "vụ» theo điểm bình quân, vượt tỷ lệ: tối đa 20 % × 5 (số được xếp loại Hoàn thành tốt "
        "nhiệm vụ, kể cả người chuyển xuống) = 1 (làm tròn xuống); 2 người bằng điểm bình quân "
        "ở ranh giới tỷ lệ (còn 1 suất): thủ trưởng quyết định")
    # The head (80) counted in the city's pool, not in the ward's base.
    assert rows["PY-H"][1] == "UBND thành phố Sơn Hà — Cả đơn vị"
    assert lines["tp", ""].startswith("Nhóm «UBND thành phố Sơn Hà — Cả đơn vị»: trong tỷ lệ")


def test_the_xlsx_link_and_the_year_navigation(app, world):
    with as_user(app, world, "chutich.px") as client:
        root = page(client.get("/years/2026?unit=px"))
        link = by_testid(root, "export-xlsx").attrs["href"]
        assert link == "/api/v1/units/px/years/2026.xlsx"
        book = client.get(link)
    assert book.status_code == 200 and "spreadsheetml" in book.headers["content-type"]
    cells = [str(c) for row in openpyxl.load_workbook(io.BytesIO(book.content)).active
             .iter_rows(values_only=True) for c in row if c is not None]
    assert "Trần Thị Bình" in cells
    assert by_testid(root, "prev-year").attrs["href"] == "/years/2025?unit=px"
    assert by_testid(root, "next-year").attrs["href"] == "/years/2027?unit=px"
    assert by_testid(root, "month-overview").attrs["href"] == "/?unit=px"


def test_the_month_overview_links_to_its_year(app, world):
    with as_user(app, world, "chutich.px") as client:
        root = page(client.get("/?month=2026-03&unit=px"))
    assert by_testid(root, "year-link").attrs["href"] == "/years/2026?unit=px"


# --- who may see it ---------------------------------------------------------------------------

@pytest.mark.parametrize("login, url", [
    ("canbo.px2", "/years/2026?unit=px"),  # an officer: their own year only, on /me
    ("canbo.px2", "/years/2026"),
    ("tech", "/years/2026?unit=px"),  # a technician reads no evaluation data
    ("chutich.px", "/years/2026?unit=py"),  # a head: their own unit and below
    ("chutich.px", "/years/2026?unit=tp"),
])
def test_refused_outside_role_or_scope(app, world, login, url):
    with as_user(app, world, login) as client:
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("year", ["1999", "2101", "abc"])
def test_a_year_out_of_range_is_refused_with_the_sites_page(app, world, year):
    with as_user(app, world, "chutich.px") as client:
        response = client.get(f"/years/{year}?unit=px")
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert "Năm không hợp lệ" in page(response).one("main").text()


def test_an_administrator_starts_at_the_root_with_every_unit(app, world):
    with as_user(app, world, "admin") as client:
        root = page(client.get("/years/2026"))
        assert client.get("/years/2026?unit=nowhere").status_code == 404
    assert [o.attrs["value"] for o in root.all("option")] == ["tp", "px", "py"]
    rows = rows_of(root)
    assert len(rows) == len(OFFICERS)
    # The same grades as each ward's own year: a pool does not depend on the unit asked for.
    assert [rows[o][5] for o in ("PX-01", "PX-02", "PY-01", "PY-02")] == [
        EXCELLENT, GOOD, EXCELLENT, EXCELLENT]
    assert rows["PX-02"][1] == "UBND phường Xuân La — Một cửa"
    # The city's head: no pool in hailong, graded by points (90), the quota checked above.
    assert rows["TP-H"][1] == "—" and rows["TP-H"][5] == EXCELLENT
    assert rows["TP-H"][6].endswith("do cấp trên xét, ngoài hailong")
    assert list(quota_lines(root)) == [("px", ""), ("px", "Một cửa"), ("py", ""), ("tp", ""),
                                       ("tp", "Lãnh đạo")]


# --- the officer's own year on /me --------------------------------------------------------------

def test_an_officer_sees_their_average_and_grade_by_points_on_me(app, world):
    with as_user(app, world, "canbo.px2") as client:
        vi = by_testid(page(client.get("/me")), "my-year")
        en = by_testid(page(client.get("/me?lang=en")), "my-year")
    # Bình's own year: 93, excellent by points, graded good by her pool's quota (the unit's
    # year says the same), and why.
    assert by_testid(vi, "my-year-average").text() == "93"
    assert by_testid(vi, "my-year-grade").text() == EXCELLENT
    assert by_testid(vi, "my-year-final").text() == GOOD
    assert by_testid(vi, "my-year-note").text() == (
        "Điểm bình quân 93 đạt loại «Hoàn thành xuất sắc nhiệm vụ» nhưng vượt tỷ lệ của nhóm "
        "«UBND phường Xuân La — Một cửa» (1 suất: tối đa 20 % × 7 = 1, làm tròn xuống): xếp "
        "loại «Hoàn thành tốt nhiệm vụ»")
    assert "Grade after discipline and quota" in en.text()
    assert by_testid(en, "my-year-final").text() == "Good"
    assert vi.all("a") == []  # an officer cannot open the unit's year


def test_a_head_s_own_year_links_to_the_unit_year(app, world):
    with as_user(app, world, "chutich.px") as client:
        block = by_testid(page(client.get("/me")), "my-year")
    assert by_testid(block, "my-year-average").text() == "88"
    assert block.one("a").attrs["href"] == "/years/2026?unit=px"
    # Nothing moved for them: the block names the pool they are judged in, the city's.
    assert by_testid(block, "my-year-final").text() == GOOD
    assert by_testid(block, "my-year-note").text().startswith(
        "Nhóm «UBND thành phố Sơn Hà — Lãnh đạo»: trong tỷ lệ.")


# --- a quarterly policy -------------------------------------------------------------------------

@pytest.fixture
def quarterly(tmp_path):
    text = (PRESETS_DIR / "decree-335.toml").read_text(encoding="utf-8")
    assert 'period = "month"' in text
    policy = tmp_path / "decree-335-quarterly.toml"
    policy.write_text(text.replace('period = "month"', 'period = "quarter"'), encoding="utf-8")
    path = tmp_path / "hailong.db"
    build(path, periods=("2026-Q1",))
    return make_app(path, str(policy)), path


def test_under_a_quarterly_policy_the_year_counts_quarters(quarterly):
    app, path = quarterly
    with as_user(app, path, "chutich.px") as client:
        root = page(client.get("/years/2026?unit=px"))
    rows = rows_of(root)
    # One quarter is over (Q1); each officer's one decided score is their year's average.
    assert rows["PX-01"][2:4] == ["1/1", "95"]
    assert rows["PX-09"][2:4] == ["1/1", "85"]
    assert "Số quý được tính" in by_testid(root, "year-officers").text()
    assert quota_lines(root)["px", "Một cửa"].startswith(
        "Nhóm «UBND phường Xuân La — Một cửa»: 3 người đạt loại")


def test_templates_hold_no_user_text():
    """As tests/test_pages_leaders.py: words reach the page through _() or from data."""
    for name in ("year.html", "year_block.html"):
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        for attribute in re.findall(r'\b(?:aria-label|title|alt|placeholder)="([^"]*)"',
                                    source):
            assert re.fullmatch(r"\{\{.*\}\}", attribute), attribute
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
        assert "<script" not in text and "<style" not in text and "style=" not in text
        text = re.sub(r"<[^>]*>", " ", text)
        assert not re.findall(r"[^\W\d_]+", text), name
