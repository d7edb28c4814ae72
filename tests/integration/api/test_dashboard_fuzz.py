"""The dashboard's pages with any query, fuzzed (Hypothesis): they are not in the OpenAPI
document, so ``test_openapi_fuzz`` never reaches them. Over a real SQLite log and read
model holding the read-side scenario, no page may answer a 500, whatever its parameters
hold (a NUL in the search ended FTS5's query: a 500), and every page is HTML.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readside_server import READ_TOKEN

#: each page and the query parameters it reads (plus two it does not)
PAGES = {
    "/ui": ["severity", "rule", "status", "country"],
    "/ui/search": ["q", "source", "tag", "entity", "order"],
    "/ui/alerts/nope": [],
    "/ui/backtests": [],
    "/ui/backtests/nope": [],
    "/ui/ops": [],
    "/ui/login": ["next"],
}
ODD = ["", "\x00", "%", "'", '"', "NEAR(", "a OR", "*", "^", "country:AM", "relevance", "open",
       "critical", "AM", "<script>", "\u200b", "Армения", "a" * 3000]  # fmt: skip
values = st.one_of(st.sampled_from(ODD), st.text(max_size=20))


@pytest.fixture
def client(api_app: FastAPI) -> TestClient:
    return TestClient(api_app, headers={"Authorization": f"Bearer {READ_TOKEN}"})


@pytest.mark.parametrize("path", list(PAGES))
def test_no_page_answers_a_500_whatever_its_query(client: TestClient, path: str) -> None:
    @settings(
        max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(params=st.dictionaries(st.sampled_from([*PAGES[path], "cursor", "x"]), values))
    def visit(params: dict[str, str]) -> None:
        r = client.get(path, params=params)
        assert r.status_code in (200, 404), (params, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), params

    with client:
        visit()
