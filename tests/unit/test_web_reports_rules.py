"""The consideration table's pager for thousands of proposals (R-3.16)."""
from gateway.web.views_reports import pager_window


def test_pager_window_keeps_first_last_and_neighbours():
    """Clause R-3.16."""
    assert pager_window(1, 1) == [1]
    assert pager_window(1, 5) == [1, 2, 3, 4, 5]
    assert pager_window(1, 1000) == [1, 2, 3, 4, None, 1000]
    assert pager_window(500, 1000) == [1, None, 497, 498, 499, 500, 501, 502, 503, None, 1000]
    assert pager_window(1000, 1000) == [1, None, 997, 998, 999, 1000]
    assert pager_window(5, 9) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
