"""Who may call which route: the one role × route table, applied to every request.

Each operation of the app (method, path template) has a `Rule`: the roles that may call it
(none: public, no account needed), the kind of data it reads or changes, and the path
parameter that names what it touches (`target`), whose unit must be in the caller's scope.
`collector.web.auth.viewer` — the dependency every signed-in route goes through — looks the route
up here before the route runs: a role not listed gets 403, a target outside the caller's scope
403 (an unknown officer 404), and a route missing from the table 403 for everyone, so a new
route cannot slip through unchecked (tests/test_access.py fails until it is added here).

The rules, in words:
- evaluation data (ratings, satisfaction, trends, tasks, the monthly evaluation, responses,
  months and years, XLSX): officers (themselves), leaders, heads and administrators — never a
  technician, who reads fleet and device data only (issue 10);
- a unit's month, year, trend and XLSX: leaders, heads and administrators, as the overview
  page; the unit's workflow status and the calendar's due dates: heads and administrators;
- fleet and devices: technicians, administrators and heads (the device list also leaders);
  rejected messages and commands to devices: technicians and administrators;
- the organisation: everyone reads the part in scope; units are changed by administrators,
  officers' records also by heads, counters also by technicians, the roster by leaders,
  heads and administrators;
- alerts: read and answered by leaders, heads and administrators (an alert names the officer
  on duty and carries their presses: evaluation evidence, so not a technician's).

The routes still apply finer rules themselves: the steps of an evaluation and the judging of
tasks are open to the people roles here, and collector/accounts/permissions.py decides who among
them (only the direct leader reviews, only the responsible head decides, nobody judges their own
task) with a refusal that says why; a listing shows only what is in scope; alerts and shifts are
scoped by their own units there. This table is the outer gate.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFICER, LEADER, HEAD = "officer", "leader", "head"
TECHNICIAN, ADMINISTRATOR = "technician", "administrator"

EVERYONE = frozenset({OFFICER, LEADER, HEAD, TECHNICIAN, ADMINISTRATOR})
PUBLIC: frozenset[str] = frozenset()
PEOPLE = frozenset({OFFICER, LEADER, HEAD})  # act as their officer record
EVALUATION = frozenset({OFFICER, LEADER, HEAD, ADMINISTRATOR})  # read evaluation data
UNIT_EVALUATION = frozenset({LEADER, HEAD, ADMINISTRATOR})  # a whole unit's evaluations
LEADERS = frozenset({LEADER, HEAD})
HEADS_ADMIN = frozenset({HEAD, ADMINISTRATOR})
ADMIN = frozenset({ADMINISTRATOR})
STAFF = frozenset({TECHNICIAN, ADMINISTRATOR})
FLEET = frozenset({TECHNICIAN, ADMINISTRATOR, HEAD})
DEVICE_LIST = FLEET | {LEADER}
# Not technicians: an alert names the officer on duty and carries their presses, which is
# evaluation evidence; a faulty device shows on the fleet page.
ALERT_READERS = frozenset({LEADER, HEAD, ADMINISTRATOR})
ALERT_RESPONDERS = frozenset({LEADER, HEAD, ADMINISTRATOR})
OFFICER_EDITORS = frozenset({ADMINISTRATOR, HEAD})
COUNTER_EDITORS = frozenset({ADMINISTRATOR, TECHNICIAN})
ROSTER_EDITORS = frozenset({ADMINISTRATOR, HEAD, LEADER})

# What a target kind is called in the path, and so where the gate finds it.
TARGET_PARAMS = {"unit": "unit_id", "officer": "officer_id", "device": "device_id",
                 "task": "task_id", "counter": "counter_id"}


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    data: str  # evaluation, fleet, organisation, alerts, account, system, home
    target: str | None = None  # a key of TARGET_PARAMS: checked against the caller's scope

    @property
    def public(self) -> bool:
        return not self.roles


def _r(roles: frozenset[str], data: str, target: str | None = None) -> Rule:
    return Rule(frozenset(roles), data, target)


EVAL_OFFICER = "/api/v1/officers/{officer_id}/evaluations/{month}"

ROUTES: dict[tuple[str, str], Rule] = {
    # --- system and accounts
    ("GET", "/api/v1/health"): _r(PUBLIC, "system"),
    ("GET", "/openapi.json"): _r(EVERYONE, "system"),
    ("GET", "/docs"): _r(EVERYONE, "system"),
    ("GET", "/api/v1/me"): _r(EVERYONE, "account"),
    ("GET", "/login"): _r(PUBLIC, "account"),
    ("POST", "/login"): _r(PUBLIC, "account"),
    ("POST", "/logout"): _r(EVERYONE, "account"),
    ("GET", "/language/{code}"): _r(PUBLIC, "account"),
    # --- evidence: ratings and satisfaction
    ("GET", "/api/v1/officers/{officer_id}/satisfaction"): _r(EVALUATION, "evaluation",
                                                               "officer"),
    ("GET", "/api/v1/overview"): _r(EVALUATION, "evaluation"),
    ("GET", "/api/v1/ratings"): _r(EVALUATION, "evaluation"),
    ("GET", "/api/v1/officers/{officer_id}/trend"): _r(EVALUATION, "evaluation", "officer"),
    ("GET", "/api/v1/officers/{officer_id}/heatmap"): _r(EVALUATION, "evaluation", "officer"),
    ("GET", "/api/v1/units/{unit_id}/trend"): _r(UNIT_EVALUATION, "evaluation", "unit"),
    # --- fleet and devices
    ("GET", "/api/v1/rejected"): _r(STAFF, "fleet"),
    ("GET", "/api/v1/devices"): _r(DEVICE_LIST, "fleet"),
    ("POST", "/api/v1/devices/{device_id}/session"): _r(STAFF, "fleet", "device"),
    ("POST", "/api/v1/devices/{device_id}/command"): _r(STAFF, "fleet", "device"),
    ("GET", "/api/v1/fleet"): _r(FLEET, "fleet"),
    ("GET", "/api/v1/devices/{device_id}/screen.png"): _r(FLEET, "fleet", "device"),
    ("GET", "/fleet"): _r(FLEET, "fleet"),
    # --- organisation and roster
    ("GET", "/api/v1/officers"): _r(EVERYONE, "organisation"),
    ("POST", "/api/v1/officers"): _r(OFFICER_EDITORS, "organisation"),
    ("GET", "/api/v1/officers/{officer_id}"): _r(EVERYONE, "organisation", "officer"),
    ("PATCH", "/api/v1/officers/{officer_id}"): _r(OFFICER_EDITORS, "organisation", "officer"),
    ("PUT", "/api/v1/officers/{officer_id}/post-group"): _r(ADMIN, "organisation", "officer"),
    ("GET", "/api/v1/units"): _r(EVERYONE, "organisation"),
    ("POST", "/api/v1/units"): _r(ADMIN, "organisation"),
    ("GET", "/api/v1/units/{unit_id}"): _r(EVERYONE, "organisation", "unit"),
    ("PATCH", "/api/v1/units/{unit_id}"): _r(ADMIN, "organisation", "unit"),
    ("GET", "/api/v1/counters"): _r(EVERYONE, "organisation"),
    ("POST", "/api/v1/counters"): _r(COUNTER_EDITORS, "organisation"),
    ("PATCH", "/api/v1/counters/{counter_id}"): _r(COUNTER_EDITORS, "organisation", "counter"),
    ("GET", "/api/v1/roster"): _r(EVERYONE, "organisation"),
    ("POST", "/api/v1/roster"): _r(ROSTER_EDITORS, "organisation"),
    ("PATCH", "/api/v1/roster/{shift_id}"): _r(ROSTER_EDITORS, "organisation"),
    ("DELETE", "/api/v1/roster/{shift_id}"): _r(ROSTER_EDITORS, "organisation"),
    ("POST", "/api/v1/import/{kind}"): _r(ADMIN, "organisation"),
    # --- tasks
    ("POST", "/api/v1/officers/{officer_id}/tasks"): _r(PEOPLE, "evaluation", "officer"),
    ("GET", "/api/v1/officers/{officer_id}/tasks"): _r(EVALUATION, "evaluation", "officer"),
    ("GET", "/api/v1/tasks/{task_id}"): _r(EVALUATION, "evaluation", "task"),
    ("PATCH", "/api/v1/tasks/{task_id}"): _r(PEOPLE, "evaluation", "task"),
    ("POST", "/api/v1/tasks/{task_id}/quality-error"): _r(PEOPLE, "evaluation", "task"),
    ("POST", "/api/v1/tasks/{task_id}/excuse-delay"): _r(PEOPLE, "evaluation", "task"),
    ("GET", "/api/v1/team"): _r(LEADERS, "evaluation"),
    # --- the monthly evaluation
    ("GET", EVAL_OFFICER): _r(PEOPLE, "evaluation", "officer"),
    ("PUT", EVAL_OFFICER + "/self"): _r(PEOPLE, "evaluation", "officer"),
    ("PUT", EVAL_OFFICER + "/review"): _r(PEOPLE, "evaluation", "officer"),
    ("POST", EVAL_OFFICER + "/decision"): _r(PEOPLE, "evaluation", "officer"),
    ("POST", EVAL_OFFICER + "/reopen"): _r(PEOPLE, "evaluation", "officer"),
    ("POST", EVAL_OFFICER + "/responses"): _r(PEOPLE, "evaluation", "officer"),
    ("GET", EVAL_OFFICER + "/responses"): _r(EVALUATION, "evaluation", "officer"),
    ("GET", "/api/v1/units/{unit_id}/evaluations/{month}/status"): _r(HEADS_ADMIN,
                                                                       "evaluation", "unit"),
    ("GET", "/api/v1/calendar/{month}"): _r(EVALUATION, "evaluation"),
    ("PUT", "/api/v1/calendar/{month}"): _r(HEADS_ADMIN, "evaluation"),
    # --- months and years
    ("GET", "/api/v1/officers/{officer_id}/months/{month}"): _r(EVALUATION, "evaluation",
                                                                 "officer"),
    ("GET", "/api/v1/units/{unit_id}/months/{month}"): _r(UNIT_EVALUATION, "evaluation",
                                                          "unit"),
    ("GET", "/api/v1/units/{unit_id}/months/{month}.xlsx"): _r(UNIT_EVALUATION, "evaluation",
                                                               "unit"),
    ("GET", "/api/v1/units/{unit_id}/months/{month}/summary"): _r(UNIT_EVALUATION,
                                                                     "evaluation", "unit"),
    ("GET", "/api/v1/officers/{officer_id}/years/{year}"): _r(EVALUATION, "evaluation",
                                                               "officer"),
    ("GET", "/api/v1/units/{unit_id}/years/{year}"): _r(UNIT_EVALUATION, "evaluation", "unit"),
    ("GET", "/api/v1/units/{unit_id}/years/{year}.xlsx"): _r(UNIT_EVALUATION, "evaluation",
                                                             "unit"),
    # --- alerts
    ("GET", "/api/v1/alerts"): _r(ALERT_READERS, "alerts"),
    ("GET", "/api/v1/alerts/{alert_id}"): _r(ALERT_READERS, "alerts"),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): _r(ALERT_RESPONDERS, "alerts"),
    ("POST", "/api/v1/alerts/{alert_id}/notes"): _r(ALERT_RESPONDERS, "alerts"),
    ("GET", "/alerts"): _r(ALERT_READERS, "alerts"),
    ("GET", "/alerts/{alert_id}"): _r(ALERT_READERS, "alerts"),
    ("POST", "/alerts/{alert_id}/acknowledge"): _r(ALERT_RESPONDERS, "alerts"),
    ("POST", "/alerts/{alert_id}/notes"): _r(ALERT_RESPONDERS, "alerts"),
    # --- the leaders' and officers' pages (twins of the routes above)
    # Everyone's landing pages: "/" sends officers and technicians on to their own home; "/me"
    # shows an account without an officer record nothing but that.
    ("GET", "/"): _r(EVERYONE, "home"),
    ("GET", "/officers/{officer_id}"): _r(EVALUATION, "evaluation", "officer"),
    ("GET", "/officers/{officer_id}/months/{month}/form"): _r(EVALUATION, "evaluation",
                                                              "officer"),
    ("POST", "/officers/{officer_id}/months/{month}/review"): _r(PEOPLE, "evaluation",
                                                                 "officer"),
    ("POST", "/officers/{officer_id}/months/{month}/decision"): _r(PEOPLE, "evaluation",
                                                                   "officer"),
    ("POST", "/officers/{officer_id}/months/{month}/reopen"): _r(PEOPLE, "evaluation",
                                                                 "officer"),
    ("GET", "/me"): _r(EVERYONE, "home"),
    ("POST", "/me/tasks"): _r(PEOPLE, "evaluation"),
    ("POST", "/me/tasks/{task_id}/progress"): _r(PEOPLE, "evaluation", "task"),
    ("POST", "/me/tasks/{task_id}/done"): _r(PEOPLE, "evaluation", "task"),
    ("POST", "/me/self-evaluation"): _r(PEOPLE, "evaluation"),
    ("POST", "/me/responses"): _r(PEOPLE, "evaluation"),
    ("GET", "/team"): _r(LEADERS, "evaluation"),
    # The unit's year (?unit=, checked by the page like "/"); an officer's own is on /me.
    ("GET", "/years/{year}"): _r(UNIT_EVALUATION, "evaluation"),
    ("POST", "/team/tasks"): _r(LEADERS, "evaluation"),
    ("POST", "/team/tasks/{task_id}/quality-error"): _r(PEOPLE, "evaluation", "task"),
    ("POST", "/team/tasks/{task_id}/excuse-delay"): _r(PEOPLE, "evaluation", "task"),
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of an operation; HEAD is GET's. None: not in the table (refused)."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


ROLE_ORDER = (OFFICER, LEADER, HEAD, TECHNICIAN, ADMINISTRATOR)
_MARK = {"unit": "unit", "officer": "officer", "device": "device's unit",
         "task": "task's officer", "counter": "counter's unit"}


def markdown_table() -> str:
    """The table as docs/access.md shows it (a test keeps the two the same)."""
    lines = ["| method | path | " + " | ".join(ROLE_ORDER) + " | data | scope checked |",
             "|---|---|" + "---|" * len(ROLE_ORDER) + "---|---|"]
    for (method, path), rule in sorted(ROUTES.items(), key=lambda item: (item[0][1],
                                                                        item[0][0])):
        marks = " | ".join("✓" if role in rule.roles else "" for role in ROLE_ORDER)
        scope = "public" if rule.public else _MARK.get(rule.target or "", "by the route")
        lines.append(f"| {method} | `{path}` | {marks} | {rule.data} | {scope} |")
    return "\n".join(lines) + "\n"
