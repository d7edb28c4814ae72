"""The API against its own OpenAPI document, fuzzed (schemathesis, property-based): the app
over a real SQLite log and read model, with the read-side scenario in it, gets requests
generated from the document, valid and malformed. None may get a 500, and every answer
must be one the document declares: its status code, content type, body and headers.

Left out: the two SSE streams (they never end, by design; tests/integration/api covers
them), and the checks that valid-looking data is accepted and invalid data refused, whose
rules the document cannot state (a cursor is opaque, ``until`` must follow ``since``, a
secret must be an ``${ENV}`` reference); the write tests check those one by one.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from readside_server import WRITE_TOKEN
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
STREAMS = ("/stream/alerts", "/subscriptions/{subscription_id}/stream")
AUTH = {"Authorization": f"Bearer {WRITE_TOKEN}"}
#: examples per operation and mode: enough to reach each parameter's edge cases, few enough
#: for CI (about 15 s for the whole document, both modes)
EXAMPLES = 25


def _operations(app: FastAPI) -> list[APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path not in STREAMS]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_500_or_an_undocumented_answer(
    api_app: FastAPI, mode: GenerationMode
) -> None:
    """Each operation, with data that fits its schema (positive) and data that does not
    (negative). Failures are gathered over every operation, then reported together."""
    failures: dict[str, str] = {}
    operations = _operations(api_app)
    assert len(operations) >= 25  # the document was read whole

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # negative: nothing to get wrong (no parameter, a free string)
            continue
        except Exception as exc:  # every operation is tried; all failures are reported
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())
