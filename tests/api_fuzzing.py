"""Schemathesis over the whole OpenAPI document, as each role, in process (issue 10).

One seeded world (the demo's organisation, 30 days of its history, one account per role),
the app served through ASGI (no socket), and Schemathesis's own engine — the one its command
line runs — with every phase (examples, coverage, fuzzing, stateful) and these checks:

- not_a_server_error: no 5xx, whatever the input;
- status_code_conformance, content_type_conformance, response_schema_conformance,
  response_headers_conformance: every answer is one the document declares, with the body
  the document gives it (error bodies included);
- negative_data_rejection: what the schema forbids is refused with a 4xx;
- ignored_auth: an operation that declares sign-in refuses a request without it.

Left out on purpose, each for a stated reason: positive_data_acceptance (a valid request
may be refused by the domain: a month not yet open, an officer outside the caller's scope;
the document lists those refusals), use_after_free and ensure_resource_availability (the
API has deletes that keep history: a cancelled shift stays readable by design),
missing_required_header and unsupported_method (answered by FastAPI itself: 405/422 are not
this project's code), max_response_time (performance belongs in bench/).

`fuzz(examples=N)` returns the figures (operations × roles, cases, requests, failures); the
suite runs a short version, `HAILONG_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest -q -s
tests/test_api_schemathesis.py` the long one.
"""

from __future__ import annotations

import tempfile
import warnings
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROLES = ("administrator", "technician", "head", "leader", "officer")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          "negative_data_rejection", "ignored_auth")
# The demo's accounts (collector/demo/accounts.py): one per role, the people of the seed.
ACCOUNTS = {"administrator": ("quantri", None), "technician": ("kythuat", None),
            "head": ("chutich.hk", "HK-0100"), "leader": ("lanhdao.hk", "HK-0101"),
            "officer": ("canbo.hk1", "HK-0001")}


@dataclass
class Figures:
    operations: int = 0
    roles: list[str] = field(default_factory=list)
    cases: int = 0
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    phases: Counter = field(default_factory=Counter)  # requests per phase
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.operations} operations × {len(self.roles)} roles "
                f"({', '.join(self.roles)}): {self.cases} cases, {self.requests} requests, "
                f"{len(self.failures)} failures; by phase {dict(self.phases)}; "
                f"statuses {dict(sorted(self.statuses.items()))}")


def seeded_world(folder: Path) -> tuple[Path, dict[str, str]]:
    """A database with the demo's organisation and history, and a token per role."""
    from collector.accounts.users import AccountService
    from collector.demo.accounts import DEMO_PASSWORD
    from collector.demo.history import seed_history
    from collector.demo.seed import seed_demo
    from collector.db.store import Store

    path = folder / "hailong.db"
    store = Store(path)
    try:
        devices = seed_demo(store, 4)
        seed_history(store, devices, days=30, seed=7)
        service = AccountService(store, actor="fuzz")
        tokens = {}
        for role, (login, officer) in ACCOUNTS.items():
            service.add(login, name=login, role=role, password=DEMO_PASSWORD,
                        officer_id=officer, unit_id=None)
            tokens[role] = service.issue_token(login, "fuzz")
    finally:
        store.close()
    return path, tokens


def _config(token: str, examples: int, seed: int, stateful: bool, coverage: bool) -> Any:
    import schemathesis

    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in CHECKS})
    return schemathesis.Config.from_dict({
        "seed": seed, "workers": 1, "continue-on-failure": True,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": examples, "mode": "all", "database": "none"},
        "checks": checks,
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": coverage},
                   "fuzzing": {"enabled": True},
                   "stateful": {"enabled": stateful, "max-steps": max(4, examples)}},
        "suppress-health-check": ["all"],
    })


def fuzz_role(app: Any, token: str, figures: Figures, *, examples: int, seed: int,
              stateful: bool = True, coverage: bool = True) -> None:
    import schemathesis
    from schemathesis.engine import Status, events, from_schema

    config = _config(token, examples, seed, stateful, coverage)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config,
                                            headers={"Authorization": f"Bearer {token}"})
    figures.operations = max(figures.operations, schema.statistic.operations.total)
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            figures.failures.append(f"error in {event.label}: {event.info.message}")
            continue
        if not isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            continue
        recorder = event.recorder
        figures.cases += len(recorder.cases)
        phase = getattr(event, "phase", None)
        phase = getattr(phase, "value", "fuzz")
        for interaction in recorder.interactions.values():
            figures.requests += 1
            figures.phases[phase] += 1
            if interaction.response is not None:
                figures.statuses[interaction.response.status_code] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    case = recorder.cases[case_id].value
                    figures.failures.append(
                        f"{check.name}: {case.operation.label}: "
                        f"{check.failure_info.failure.title} — "
                        f"{check.failure_info.code_sample[:600]}")


@contextmanager
def world() -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on a fresh seeded database, with its lifespan running, and a token per role."""
    from fastapi.testclient import TestClient

    from collector.app import create_app
    from collector.core.settings import Settings

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path, tokens = seeded_world(Path(folder))
        app = create_app(Settings(db_path=path, broker_url=None))
        with TestClient(app):  # the lifespan: the database migrated before the first call
            yield app, tokens


def fuzz(examples: int = 5, seed: int = 10, roles: tuple[str, ...] = ROLES,
         stateful: bool = True, coverage: bool = True,
         opened: tuple[Any, dict[str, str]] | None = None) -> Figures:
    """Fuzz as each of `roles`, in the world `opened` (or a new one)."""
    figures = Figures(roles=list(roles))
    with (nullcontext(opened) if opened else world()) as (app, tokens), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for role in roles:
            fuzz_role(app, tokens[role], figures, examples=examples, seed=seed,
                      stateful=stateful, coverage=coverage)
    return figures


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    result = fuzz(int(os.environ.get("HAILONG_FUZZ_EXAMPLES", "5")),
                  roles=tuple(sys.argv[1:]) or ROLES)
    for failure in dict.fromkeys(result.failures):
        print(failure, "\n")
    print(result.summary())
