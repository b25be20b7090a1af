"""The app's routes as tests walk them: every APIRoute, including those of included routers,
which FastAPI keeps apart behind the router they came from."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from fastapi.routing import APIRoute


def all_routes(routes: Iterable) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes)


def operations(routes: Iterable) -> Counter[tuple[str, str]]:
    """How many routes answer each (method, path) of `routes` (an app's or a router's)."""
    return Counter((method, route.path) for route in all_routes(routes)
                   for method in route.methods)
