"""The one pager of the pages: slices and neighbours at the edges."""

from __future__ import annotations

import pytest

from dashboard.views.paging import pager


@pytest.mark.parametrize("total, page, per_page, first, last, prev, next_", [
    (0, 1, 50, 0, 0, None, None),
    (50, 1, 50, 1, 50, None, None),
    (51, 1, 50, 1, 50, None, 2),
    (51, 2, 50, 51, 51, 1, None),
    (120, 2, 50, 51, 100, 1, 3),
    (10, 3, 50, 1, 10, None, None),  # past the end: the last page
    (10, -4, 50, 1, 10, None, None),
])
def test_pager_slices_and_links(total, page, per_page, first, last, prev, next_):
    info = pager(total, page, lambda n: n, per_page)
    assert (info["first"], info["last"], info["prev"], info["next"]) == (first, last, prev,
                                                                         next_)
    assert info["stop"] - info["start"] == (last - first + 1 if total else 0)
