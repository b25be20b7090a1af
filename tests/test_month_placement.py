"""A month with a stored place keeps it: who reviews, decides and reopens it, whose quota it
is checked in and who may read it follow the unit it was reviewed or decided in (issue 12).

The organisation (hanoi-3814, March 2026, reviewed and decided on 10 April):

    CITY (head H0)
    ├── A "Phường An" (head HA): HA, LA (leader), O1 (led by LA), O2, O3, O4 (led by HA)
    └── B "Phường Bình" (head HB): HB, LB (leader), O5 (led by LB)

`graded`: LA reviews O1 "A", HA decides it; HA reviews and decides O2, O3, O4 "B". Then O1
moves to B, led by LB. A's quota pool for March is HA, LA, O1–O4 (6 people), B's HB, LB, O5.
Worked by hand:

- HA reopens O1's March and decides "A" again: decided O1 A, O2–O4 B; HA and LA not decided,
  counted at B (the best case): 6 rated, cap floor(0.3 × 6) = 1, 1 "A" → passes, and the month
  stays A's: (unit, deciding unit) = (A, A). HB may neither reopen nor decide it.
- HB decides O5 "B" (LB reviewed): B's pool is O5 B, HB and LB pending → 3 rated; had O1's
  March followed O1, 4.
- After the reopening the review is still LA's, the stored reviewer, while LA is in office
  (LB, who leads O1 now, is refused); once LA has left, it falls to HA, the month's head.
- A's head becomes HA2 (a new officer of A): HA2 reopens and decides O1's March. The pool adds
  HA2: decided O1 A, O2–O4 B; HA, HA2, LA pending → 7 rated, cap floor(2.1) = 2, 1 "A".
- Re-parenting (its own organisation below): see `test_the_quota_counts_by_the_deciding_unit_…`.
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from fastapi.testclient import TestClient

from accounts_support import as_officer

from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store
from collector.evaluation.policy import load_preset
from collector.evaluation.workflow import status
from collector.evaluation.workflow.steps import (
    QuotaNotAcknowledged,
    WorkflowForbidden,
    WorkflowService,
)
from collector.org.organisation import OrganisationService, upsert_officer, upsert_unit
from collector.web import deps

MONTH, NEXT = "2026-03", "2026-04"
TODAY = date(2026, 4, 10)  # March is over and its self-evaluation due date has passed
T0 = 1_775_000_000_000
HANOI = {"discipline_ethics": 18, "bonus": 5}
POLICY = load_preset("hanoi-3814")
MC = "Một cửa"


def officer(store, officer_id, unit, leader=None):
    upsert_officer(store.db, officer_id, f"Cán bộ {officer_id}", "Chuyên viên", unit,
                   leader_id=leader)


def head(store, unit, name, parent, head_id):
    upsert_unit(store.db, unit, name, parent, kind="ward" if parent == "CITY" else "office",
                head_id=head_id)


def build_org(store: Store) -> None:
    upsert_unit(store.db, "CITY", "Thành phố")
    upsert_unit(store.db, "A", "Phường An", "CITY", kind="ward")
    upsert_unit(store.db, "B", "Phường Bình", "CITY", kind="ward")
    for officer_id, unit in [("H0", "CITY"), ("HA", "A"), ("LA", "A"), ("O2", "A"),
                             ("O3", "A"), ("O4", "A"), ("HB", "B"), ("LB", "B")]:
        officer(store, officer_id, unit)
    officer(store, "O1", "A", "LA")
    officer(store, "O5", "B", "LB")
    upsert_unit(store.db, "CITY", "Thành phố", head_id="H0")
    head(store, "A", "Phường An", "CITY", "HA")
    head(store, "B", "Phường Bình", "CITY", "HB")


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "hailong.db")
    build_org(store)
    yield store
    store.close()


@pytest.fixture
def service(store):
    ticks = itertools.count(T0, 1000)
    return WorkflowService(store, POLICY, clock=lambda: next(ticks), today=lambda: TODAY)


def grade(service, officer_id, reviewer, decider, letter, *, decide=True, ack=False):
    service.review(officer_id, MONTH, reviewer, HANOI, "Nhận xét", letter)
    if decide:
        return service.decide(officer_id, MONTH, decider, letter, "Đồng ý",
                              acknowledge_quota=ack)
    return None


def place(store, officer_id, month=MONTH):
    return tuple(store.db.execute(
        "SELECT unit_id, deciding_unit_id, post_group FROM evaluations "
        "WHERE officer_id = ? AND month = ?", [officer_id, month]).fetchone())


def numbers(quota):
    return (quota["rated"], quota["cap"], quota["proposed"], quota["pending"],
            quota["refuses"])


@pytest.fixture
def graded(service, store):
    """O1 decided "A" in A (reviewed by LA), O2–O4 "B"; then O1 moves to B, led by LB."""
    grade(service, "O1", "LA", "HA", "A")
    for officer_id in ("O2", "O3", "O4"):
        grade(service, officer_id, "HA", "HA", "B")
    officer(store, "O1", "B", "LB")
    return service


# --- deciding again after a move ------------------------------------------------------------

def test_a_redecision_after_a_move_stays_in_the_old_unit_and_its_quota(graded, store):
    with pytest.raises(WorkflowForbidden):
        graded.reopen("O1", MONTH, "HB", "Xem lại theo đơn vị mới")
    graded.reopen("O1", MONTH, "HA", "Xem lại")
    assert place(store, "O1") == ("A", "A", None)
    with pytest.raises(WorkflowForbidden):
        graded.decide("O1", MONTH, "HB", "A")

    decided = graded.decide("O1", MONTH, "HA", "A", "Giữ nguyên")
    assert numbers(decided["quota"]) == (6, 1, 1, 2, False)
    [_, event] = [e for e in decided["history"] if e["step"] == "decision"]
    assert event["data"]["quota_unit"] == "A"
    assert place(store, "O1") == ("A", "A", None)
    assert (decided["unit_id"], decided["head"]) == ("A", "HA")

    # B's pool never had O1's March: HB, LB pending and O5's B → 3 rated.
    graded.review("O5", MONTH, "LB", HANOI, "Nhận xét", "B")
    checked = graded.decide("O5", MONTH, "HB", "B")["quota"]
    assert numbers(checked) == (3, 0, 0, 2, False)


def test_a_review_edited_after_a_reopening_keeps_the_place(graded, store):
    graded.reopen("O1", MONTH, "HA", "Sửa nhận xét")
    # LB leads O1 now, but not O1's March; HA decides it but does not review it.
    for stranger in ("LB", "HA"):
        with pytest.raises(WorkflowForbidden):
            graded.review("O1", MONTH, stranger, HANOI, "Nhận xét lại", "B")
    reviewed = graded.review("O1", MONTH, "LA", HANOI, "Nhận xét lại", "B")
    assert (reviewed["review"]["by"], reviewed["leader"], reviewed["head"],
            reviewed["unit_id"]) == ("LA", "LA", "HA", "A")
    assert place(store, "O1") == ("A", "A", None)
    graded.decide("O1", MONTH, "HA", "B")
    assert place(store, "O1") == ("A", "A", None)


def test_a_reviewer_who_has_left_hands_the_review_to_the_head_of_the_place(graded, store):
    upsert_officer(store.db, "LA", "Cán bộ LA", "Chuyên viên", "A", active_to="2026-04-05")
    graded.reopen("O1", MONTH, "HA", "Xem lại")
    for stranger in ("LA", "LB"):
        with pytest.raises(WorkflowForbidden):
            graded.review("O1", MONTH, stranger, HANOI, "Nhận xét lại", "B")
    reviewed = graded.review("O1", MONTH, "HA", HANOI, "Nhận xét lại", "B")
    assert (reviewed["review"]["by"], reviewed["leader"]) == ("HA", "HA")
    assert place(store, "O1") == ("A", "A", None)


def test_a_new_head_of_the_old_unit_decides_its_reopened_month(graded, store):
    officer(store, "HA2", "A")
    head(store, "A", "Phường An", "CITY", "HA2")
    for former in ("HA", "HB"):
        with pytest.raises(WorkflowForbidden):
            graded.reopen("O1", MONTH, former, "Xem lại")
    graded.reopen("O1", MONTH, "HA2", "Xem lại")
    decided = graded.decide("O1", MONTH, "HA2", "A")
    assert numbers(decided["quota"]) == (7, 2, 1, 3, False)
    assert decided["decision"]["by"] == "HA2"
    assert place(store, "O1") == ("A", "A", None)


def test_a_moved_officers_reopened_month_keeps_its_group(graded, store):
    org = OrganisationService(store, actor="test")
    org.set_post_group("O1", MC)  # too late for March: decided without a group
    graded.reopen("O1", MONTH, "HA", "Xem lại")
    decided = graded.decide("O1", MONTH, "HA", "A")
    # O1 has left A: the month keeps the group it was stored with, not O1's group in B.
    assert decided["quota"]["post_group"] is None
    assert place(store, "O1") == ("A", "A", None)
    lines = status.unit_quotas(store.db, POLICY, "A", MONTH)
    assert [line.post_group for line in lines] == [None]


def test_the_workflow_status_awaits_the_head_of_the_months_place(graded, store):
    graded.reopen("O1", MONTH, "HA", "Xem lại")
    old = status.unit_evaluation_status(store.db, POLICY, "A", MONTH, TODAY)
    [o1] = [o for o in old["officers"] if o["officer_id"] == "O1"]
    assert (o1["unit_id"], o1["awaiting"]) == ("A", [{"step": "decision", "by": "HA"}])
    # April was never reviewed: it follows O1 to B.
    nxt = status.evaluation_status(store.db, POLICY, "O1", NEXT, TODAY)
    assert (nxt["unit_id"], nxt["leader"], nxt["head"]) == ("B", "LB", "HB")


# --- a unit below gets a head, or moves ------------------------------------------------------

def with_office(store):
    """F "Tổ Một cửa", an office of A without a head: O7 and O8 (HA reviews and decides)."""
    upsert_unit(store.db, "F", "Tổ Một cửa", "A", kind="office")
    officer(store, "O7", "F")
    officer(store, "O8", "F")


def test_a_unit_below_getting_a_head_leaves_its_decided_months_with_the_old_head(service,
                                                                               store):
    with_office(store)
    grade(service, "O7", "HA", "HA", "B")
    officer(store, "HF", "F")
    head(store, "F", "Tổ Một cửa", "A", "HF")
    with pytest.raises(WorkflowForbidden):
        service.reopen("O7", MONTH, "HF", "Xem lại")
    service.reopen("O7", MONTH, "HA", "Xem lại")
    decided = service.decide("O7", MONTH, "HA", "B")
    [_, event] = [e for e in decided["history"] if e["step"] == "decision"]
    assert event["data"]["quota_unit"] == "A"
    assert place(store, "O7") == ("F", "A", None)


def test_the_quota_counts_by_the_deciding_unit_when_a_unit_is_reparented(service, store):
    """F under A: HA decides O2, O3 "B", then O7, O8 "A" (8 in A's pool: HA, LA, O1–O4, O7,
    O8; cap floor(2.4) = 2, 2 "A"). F then moves under B. O1 proposed "A": decided O2, O3 B,
    O7, O8 A and O1 A; HA, LA, O4 pending → 8 rated, cap 2, 3 "A" → refused. Had F's months
    followed F to B, A would count 6 (cap 1, 1 "A") and let it pass, and B's check of O5
    would count 5 instead of 3."""
    with_office(store)
    for officer_id in ("O2", "O3"):
        grade(service, officer_id, "HA", "HA", "B")
    for officer_id in ("O7", "O8"):
        assert not grade(service, officer_id, "HA", "HA", "A")["quota"]["refuses"]
    upsert_unit(store.db, "F", "Tổ Một cửa", "B", kind="office")

    grade(service, "O1", "LA", None, "A", decide=False)
    with pytest.raises(QuotaNotAcknowledged) as refused:
        service.decide("O1", MONTH, "HA", "A")
    quota = refused.value.quota
    assert (quota.rated, quota.cap, quota.proposed, quota.pending) == (8, 2, 3, 3)
    # A's line as the head's page and the status show it, over the same pool: O2, O3 B,
    # O7, O8 A decided, O1 A proposed; HA, LA, O4 not graded.
    line = status.unit_quota(store.db, POLICY, "A", MONTH)
    assert (line.rated, line.cap, line.proposed, line.decided, line.pending) == (8, 2, 3, 2, 3)

    service.review("O5", MONTH, "LB", HANOI, "Nhận xét", "B")
    assert numbers(service.decide("O5", MONTH, "HB", "B")["quota"]) == (3, 0, 0, 2, False)


# --- who may read the month -------------------------------------------------------------------

@pytest.fixture
def client(graded, store):
    path = store.db.execute("PRAGMA database_list").fetchone()[2]
    app = create_app(Settings(path, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: TODAY
    with TestClient(app) as client:
        client.path = path
        yield client


def test_the_old_units_head_reads_and_reopens_the_month_the_new_one_cannot(client):
    month = f"/api/v1/officers/O1/months/{MONTH}"
    evaluation = f"/api/v1/officers/O1/evaluations/{MONTH}"
    ha, hb, lb, o1 = (as_officer(client.path, who) for who in ("HA", "HB", "LB", "O1"))

    unit = client.get(f"/api/v1/units/A/months/{MONTH}", headers=ha).json()
    assert "O1" in {row["officer_id"] for row in unit["officers"]}
    assert client.get(month, headers=ha).status_code == 200
    answer = client.get(evaluation, headers=ha)
    assert answer.status_code == 200
    assert answer.json()["may"].items() >= {"view": True, "reopen": True}.items()
    for stranger in (hb, lb):
        assert client.get(month, headers=stranger).status_code == 403
        assert client.get(evaluation, headers=stranger).status_code == 403
    assert client.post(f"{evaluation}/reopen", json={"reason": "Xem lại"},
                       headers=hb).status_code == 403
    assert client.get(month, headers=o1).status_code == 200  # their own, wherever it is

    assert client.post(f"{evaluation}/reopen", json={"reason": "Xem lại"},
                       headers=ha).status_code == 200
    assert client.get(evaluation, headers=hb).status_code == 403

    # April has no place yet: it follows O1 to B.
    assert client.get(f"/api/v1/officers/O1/months/{NEXT}", headers=hb).status_code == 200
    assert client.get(f"/api/v1/officers/O1/months/{NEXT}", headers=lb).status_code == 200
    assert client.get(f"/api/v1/officers/O1/months/{NEXT}", headers=ha).status_code == 403
