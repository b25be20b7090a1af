"""Who may do what to an officer's month: the facts read from the organisation, then every
role against every action (the organisation is drawn in test_workflow.py)."""

from __future__ import annotations

import pytest

from collector.accounts import permissions
from collector.accounts.permissions import OfficerFacts, officer_facts, permissions_of
from collector.db.store import Store
from test_workflow import build_org


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("org") / "hailong.db")
    build_org(store)
    yield store.db
    store.close()


@pytest.mark.parametrize("officer, leader, head, deciding_unit, heads_over", [
    ("O1", "L1", "H1", "W1", {"H1", "H0"}),
    ("O3", "H1", "H1", "W1", {"H1", "H0"}),    # no leader_id: the head leads
    ("O4", "L1", "H1", "W1", {"H1", "H0"}),    # F1 has no head: the walk goes on to W1
    ("H1", "H0", "H0", "CITY", {"H0"}),        # a head is led and decided one level up
    ("H0", None, None, None, set()),           # the top: nobody above
    ("S", "H2", "H2", "W2", {"H2", "H0"}),
])
def test_facts_follow_the_tree_up(db, officer, leader, head, deciding_unit, heads_over):
    facts = officer_facts(db, officer)
    assert (facts.leader, facts.head, facts.deciding_unit) == (leader, head, deciding_unit)
    assert facts.heads_over == frozenset(heads_over)


def test_an_unknown_officer_has_no_facts(db):
    assert officer_facts(db, "NOBODY") is None


# Rows: officer X, actor; columns: view, self, review, decide, reopen.
ROLES = [
    ("O1", "O1", (True, True, False, False, False)),     # the officer
    ("O1", "L1", (True, False, True, False, False)),     # their leader
    ("O1", "H1", (True, False, False, True, True)),      # the head of their unit
    ("O1", "H0", (True, False, False, False, False)),    # a head higher up: sees, no more
    ("O1", "H2", (False, False, False, False, False)),   # the head of another unit
    ("O1", "O2", (False, False, False, False, False)),   # a colleague
    ("O1", "S", (False, False, False, False, False)),    # a stranger
    ("O3", "H1", (True, False, True, True, True)),       # no leader: the head reviews too
    ("O4", "H1", (True, False, False, True, True)),      # in an office below the head's unit
    ("H1", "H1", (True, True, False, False, False)),     # a head's own month...
    ("H1", "H0", (True, False, True, True, True)),       # ...goes to the head above
    ("L1", "H1", (True, False, True, True, True)),
    ("H0", "H0", (True, True, False, False, False)),     # the top: nobody reviews or decides
]


@pytest.mark.parametrize("officer, actor, expected", ROLES)
def test_every_role_against_every_action(db, officer, actor, expected):
    may = permissions_of(officer_facts(db, officer), actor)
    assert tuple(may[a] for a in ("view", "self", "review", "decide", "reopen")) == expected


FACTS = OfficerFacts("O1", "W1", leader="L1", head="H1", deciding_unit="W1",
                     heads_over=frozenset({"H1", "H0"}))


@pytest.mark.parametrize("rule, actor, words", [
    (permissions.may_self_evaluate, "L1", "Only O1 may write their own self-evaluation"),
    (permissions.may_review, "H1", "Only O1's direct leader (L1) may review"),
    (permissions.may_decide, "H2", "a head decides only in their unit"),
    (permissions.may_view, "S", "Only O1, their direct leader and the heads above"),
])
def test_a_refusal_says_why_in_both_languages(rule, actor, words):
    refused = rule(FACTS, actor)
    assert not refused and refused.allowed is False
    assert words in refused.en and refused.vi and refused.reason == f"{refused.vi} / {refused.en}"
    assert rule(FACTS, {"may_self_evaluate": "O1", "may_review": "L1", "may_decide": "H1",
                        "may_view": "O1"}[rule.__name__]).reason == ""


def test_nobody_decides_their_own_grade():
    own = OfficerFacts("H1", "W1", leader="H0", head="H0", deciding_unit="CITY",
                       heads_over=frozenset({"H0"}))
    refused = permissions.may_decide(own, "H1")
    assert "Nobody decides their own grade: it goes to the head above (H0)" in refused.en
    top = OfficerFacts("H0", "CITY", None, None, None, frozenset())
    assert "nobody can decide" in permissions.may_decide(top, "H0").en
    assert "no direct leader" in permissions.may_review(top, "H0").en


def test_unit_status_and_calendar_belong_to_heads(db):
    over_f1 = permissions.unit_heads_over(db, "F1")
    assert over_f1 == {"H1", "H0"}
    assert permissions.may_view_unit("H1", "F1", over_f1)
    assert permissions.may_view_unit("H0", "F1", over_f1)
    assert not permissions.may_view_unit("H2", "F1", over_f1)
    assert not permissions.may_view_unit("L1", "F1", over_f1)
    tops = permissions.top_unit_heads(db)
    assert tops == {"H0"}
    assert permissions.may_set_calendar("H0", tops)
    assert not permissions.may_set_calendar("H1", tops)
