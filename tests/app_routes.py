"""The app's routes as tests walk them: every APIRoute, including those of included routers,
which FastAPI keeps apart behind the router they came from."""

from __future__ import annotations

from typing import Iterable, Iterator

from fastapi.routing import APIRoute


def all_routes(routes: Iterable) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes)
