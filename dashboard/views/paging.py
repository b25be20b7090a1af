"""One pager for every paginated list of the pages: which slice a page shows, and its links.

The templates show it with the `pager` macro of templates/workspace_macros.html
("x–y of z", previous and next).
"""

from __future__ import annotations

from typing import Any, Callable

PER_PAGE = 25


def pager(total: int, page: int, href: Callable[[int], str],
          per_page: int = PER_PAGE) -> dict[str, Any]:
    """Page `page` of `total` items (clamped to 1..pages: a page past the end shows the last
    one): its slice [start, stop), "first–last" as people count, and the neighbours' links."""
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    stop = min(start + per_page, total)
    return {"page": page, "pages": pages, "total": total, "start": start, "stop": stop,
            "first": start + 1 if total else 0, "last": stop,
            "prev": href(page - 1) if page > 1 else None,
            "next": href(page + 1) if page < pages else None}
