"""One officer's month end to end in the browser (issue 6, item 5): the officer finds the two
tasks registered on the month's first morning (browser_support.WALK_TASKS), adds one to this
month's plan, completes the two and self-evaluates on /me; the direct leader
reviews and the head decides on the officer's page, acknowledging the unit's quota on the top
grade when the page warns of it; the page then shows the month decided and locked.

The month walked is the previous one: the leader's review and the head's decision open only
once a month is over (docs/evaluation.md). The officer is BD-0004 of Ba Đình, whose previous
month the demo history leaves without any evaluation (browser_support.WALK_OFFICER). Each
step is checked on the page and on its JSON twin, which reads the stored state.
"""

from __future__ import annotations

from collector.evaluation.policy import GRADE_LABELS, load_configured
from collector.db.store import Store
from collector.evaluation.workflow.status import decision_quota

from .browser_support import WALK_OFFICER, WALK_TASKS, local_today

POLICY = load_configured("hanoi-3814")
TOP = POLICY.quota.grade  # the grade the unit's quota caps (HTXSNV)
TASKS = WALK_TASKS
NEW_TASK = "Tổng hợp ý kiến phản ánh của người dân"  # added through the page, this month
REVIEW_COMMENT = "Tận tình với người dân, hoàn thành tốt nhiệm vụ."


def submit(page, form) -> None:
    """Press the form's submit button as a person would and wait for the next page."""
    with page.expect_navigation():
        form.locator('button[type="submit"], input[type="submit"], button:not([type])'
                     ).first.click()


def set_field(form, name: str, value) -> None:
    """Fill a field whatever its control: text, number or date input, select, radios,
    checkbox (`value` true or false)."""
    field = form.locator(f'[name="{name}"]')
    kind = field.first.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
    if kind.startswith("select"):
        field.select_option(str(value))
    elif kind.endswith(":radio"):
        form.locator(f'[name="{name}"][value="{value}"]').check()
    elif kind.endswith(":checkbox"):
        field.check() if value else field.uncheck()
    else:
        field.fill(str(value))


def fill_scores(form, share: float) -> dict[str, float]:
    """Every criterion the leader scores, at `share` of its points (whole points)."""
    scores = {c.code: float(round(c.points * share)) for c in POLICY.criteria
              if c.source == "leader"}
    for code, points in scores.items():
        set_field(form, f"scores.{code}", f"{points:g}")
    return scores


def api(page, path: str) -> dict:
    response = page.request.get(path)
    assert response.ok, (path, response.status, response.text())
    return response.json()


def stage_of(page) -> str:
    marker = page.locator('[data-testid="stage"][data-stage], [data-testid="stage"] [data-stage]')
    return marker.first.get_attribute("data-stage")


def error_text(page) -> str:
    errors = page.locator('p.error[role="alert"]')
    return " / ".join(errors.all_inner_texts())


def test_an_officers_month_from_tasks_to_the_heads_decision(visitors, demo):
    month, officer = demo.walk_month, WALK_OFFICER
    evaluation = f"/api/v1/officers/{officer}/evaluations/{month}"
    officer_page = f"/officers/{officer}?month={month}"
    # The officer: two tasks with deadlines in the month, both done, then the
    # self-evaluation.
    page = visitors.new_page("canbo.bd4")
    assert api(page, evaluation)["stage"] == "not_started"
    me = f"/me?month={month}"
    page.goto(me)
    # Each form sends the page back to the same month (Post/Redirect/Get), so the next step
    # starts from the page the last one returned to. A task added today goes into this
    # month's plan; the walked month's were registered on its first morning.
    this_month = local_today().strftime("%Y-%m")
    page.goto(f"/me?month={this_month}")
    form = page.locator('form[data-testid="add-task"]')
    set_field(form, "title", NEW_TASK)
    set_field(form, "period", "month")
    set_field(form, "deadline", local_today().isoformat())
    set_field(form, "weight", "1")
    submit(page, form)
    assert not error_text(page), error_text(page)
    assert page.locator("tr[data-task]", has_text=NEW_TASK).count() == 1
    page.goto(me)
    ids = {}
    for title, day in TASKS:
        row = page.locator("tr[data-task]", has_text=title)
        assert row.count() == 1, f"task {title!r} is not listed on {me}"
        ids[title] = row.get_attribute("data-task")
    for title, day in TASKS:
        form = page.locator(f'form[data-testid="done-{ids[title]}"]')
        set_field(form, "completed_on", f"{month}-{day:02d}")  # on the deadline
        submit(page, form)
        assert not error_text(page), error_text(page)
    stored = {t["title"]: t for t in api(page, f"/api/v1/officers/{officer}/tasks"
                                               f"?month={month}")["tasks"]}
    for title, day in TASKS:
        assert stored[title]["completed_on"] == f"{month}-{day:02d}"
        assert stored[title]["status"] == "on_time"

    form = page.locator('form[data-testid="self-form"]')
    own = fill_scores(form, 0.9)
    set_field(form, "comment", "Hoàn thành đúng hạn các nhiệm vụ được giao trong tháng.")
    submit(page, form)
    assert not error_text(page), error_text(page)
    state = api(page, evaluation)
    assert state["stage"] == "self_done" and state["self"]["scores"] == own

    # The direct leader reviews on the officer's page and proposes the top grade.
    page = visitors.new_page("lanhdao.bd")
    page.goto(officer_page)
    assert stage_of(page) == "self_done"
    assert page.locator('form[data-testid="decision-form"]').count() == 0  # not theirs
    form = page.locator('form[data-testid="review-form"]')
    # Nothing of anyone else's judgment is filled in (issue 12): empty scores, no grade;
    # the officer's own scores and the suggested grade stand beside the fields as evidence.
    assert [form.locator(f'[name="scores.{code}"]').input_value() for code in own] == [
        ""] * len(own)
    assert form.locator('[name="proposed_grade"]').input_value() == ""
    assert form.locator('[data-testid="review-suggested-grade"]').count() == 1
    # An incomplete review: the browser holds it back, and the server, sent it all the same,
    # refuses it and gives back what was typed.
    first = next(iter(own))
    set_field(form, f"scores.{first}", "18")
    set_field(form, "comment", REVIEW_COMMENT)
    assert form.evaluate("f => f.checkValidity()") is False
    form.evaluate("f => { f.noValidate = true; }")
    submit(page, form)
    assert error_text(page).startswith("Chưa chấm điểm"), error_text(page)
    form = page.locator('form[data-testid="review-form"]')
    assert form.locator(f'[name="scores.{first}"]').input_value() == "18"
    assert form.locator('[name="comment"]').input_value() == REVIEW_COMMENT
    assert api(page, evaluation)["stage"] == "self_done"
    given = fill_scores(form, 0.95)
    set_field(form, "proposed_grade", TOP)
    submit(page, form)
    assert not error_text(page), error_text(page)
    assert stage_of(page) == "reviewed"
    state = api(page, evaluation)
    assert state["review"]["scores"] == given and state["review"]["proposed_grade"] == TOP
    assert page.locator('[data-testid="suggested-score"]').count() == 1

    # The head decides the top grade. When that decision would exceed the unit's quota on
    # it (the grades already decided in Ba Đình decide that, issue 12), the page warns and
    # the decision goes through only once the head acknowledges it.
    store = Store(demo.db_path)
    try:
        over_quota = decision_quota(store.db, POLICY, "bd", month, officer, TOP).refuses
    finally:
        store.close()
    page = visitors.new_page("chutich.bd")
    page.goto(officer_page)
    assert stage_of(page) == "reviewed"
    assert page.locator('form[data-testid="review-form"]').count() == 0  # not theirs
    # No grade is chosen for the head either: the leader's proposal is shown beside.
    form = page.locator('form[data-testid="decision-form"]')
    assert form.locator('[name="final_grade"]').input_value() == ""
    assert GRADE_LABELS[TOP][0] in form.locator('[data-testid="decision-evidence"]').inner_text()
    form.evaluate("f => { f.noValidate = true; }")
    submit(page, form)
    assert error_text(page).startswith("Chưa chọn xếp loại quyết định"), error_text(page)
    assert api(page, evaluation)["stage"] == "reviewed"
    warned = False
    for attempt in range(2):
        form = page.locator('form[data-testid="decision-form"]')
        set_field(form, "final_grade", TOP)
        set_field(form, "note", "Nhất trí với đề xuất của lãnh đạo trực tiếp.")
        warning = page.locator('[data-testid="quota-warning"]')
        if warning.count():
            warned = True
            set_field(form, "acknowledge_quota", True)
        submit(page, form)
        if api(page, evaluation)["stage"] == "decided":
            break
        assert over_quota and not warned, (
            f"not decided on attempt {attempt + 1}: {error_text(page)!r}")
        assert page.locator('[data-testid="quota-warning"]').count(), (
            "a decision over the quota was refused without showing the quota warning")
    assert warned == over_quota, "the quota warning must show exactly when the quota is exceeded"

    state = api(page, evaluation)
    assert state["locked"] and state["decision"]["final_grade"] == TOP
    page.goto(officer_page)
    assert stage_of(page) == "decided"
    # Locked: no form to change the review or the decision is offered any more.
    assert page.locator('form[data-testid="decision-form"]').count() == 0
    assert page.locator('form[data-testid="review-form"]').count() == 0
    # The decided grade is shown with its Vietnamese name.
    assert GRADE_LABELS[TOP][0] in page.locator("main").inner_text()
