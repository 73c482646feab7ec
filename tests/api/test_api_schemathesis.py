"""Schemathesis against the generated OpenAPI document, over real HTTP (the session's `server`):
for every operation, a few hundred requests made from the schema (valid ones and invalid ones),
and every answer checked: never a 5xx, a status code, content type, headers and body that the
document announces, and invalid input refused.

Bounded and reproducible: a fixed number of examples per operation and `derandomize=True` (the
same cases on every run). Schemathesis calls the server synchronously (`requests`): it runs in a
thread, so that the session's event loop keeps serving the app meanwhile.

Not checked: `positive_data_acceptance` (that every schema-valid body is accepted). The document
cannot say that a territory code must exist, or must be a commune for a maire: such bodies are
valid for the schema and rightly refused with a 422 that names the field. The live event
stream (`streamCounts`) never ends, so a generated request could not finish: its contract is
tested in tests/counts/test_live.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

EXAMPLES = {"positive": 200, "negative": 200}  # per operation and mode
SKIPPED_OPERATIONS = {"streamCounts"}
TOTAL_SECONDS = 150.0  # the whole run's ceiling on the CI machine (2 cores)


def _check_operation(
    operation: Any,
    mode: str,
    examples: int,
    base: str,
    session: Any,
    chosen: list[Any],
    calls: dict[str, int],
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    label = f"{operation.label} ({mode})"

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def check(case: Any) -> None:
        calls[label] = calls.get(label, 0) + 1
        case.call_and_validate(base_url=base, session=session, checks=chosen, timeout=10)

    try:
        check()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameter, no body).
        assert mode == "negative", label


def _run(base: str) -> dict[str, int]:
    import requests
    import schemathesis
    from schemathesis import checks

    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    chosen = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
        checks.negative_data_rejection,
    ]
    session = requests.Session()
    calls: dict[str, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document has no operation"
    for operation in operations:
        operation_id = operation.definition.raw.get("operationId", operation.label)
        if operation_id in SKIPPED_OPERATIONS:
            continue
        for mode, examples in EXAMPLES.items():
            _check_operation(operation, mode, examples, base, session, chosen, calls)
    return calls


async def test_the_api_keeps_its_openapi_contract_under_generated_input(server: str) -> None:
    started = time.monotonic()
    calls = await asyncio.to_thread(_run, server)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {sum(calls.values())} requests in {elapsed:.0f} s: {calls}")
    assert elapsed < TOTAL_SECONDS
    # Every operation was exercised, most with many examples (enum-only ones have fewer).
    assert len(calls) >= 10
    assert sum(calls.values()) >= 1000


async def test_the_schema_documents_every_error_status_the_api_answers(
    client: Any,
) -> None:
    """The statuses the API may answer are in the served document, with their body."""
    document = (await client.get("/schema/openapi.json")).json()
    sign = document["paths"]["/api/v1/campaigns/{slug}/signatures"]["post"]["responses"]
    for status in ("202", "400", "404", "409", "413", "422", "503"):
        assert status in sign, status
    assert sign["503"]["headers"]["Retry-After"]
    assert document["components"]["schemas"]["Erreur"]["required"] == ["status_code", "detail"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/") and method in ("get", "post"):
                assert "400" in operation["responses"], (method, path)
                assert "503" in operation["responses"], (method, path)


async def test_the_schema_documents_the_bounds_of_streams_and_searches(client: Any) -> None:
    """A refused live stream (503), a search too short (400) or too frequent (429): each
    answer in the document, with its Retry-After where it has one, in its own words."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    events = paths["/api/v1/campaigns/{slug}/events"]["get"]["responses"]
    assert "SSE_MAX_STREAMS" in events["503"]["description"]
    assert events["503"]["headers"]["Retry-After"]
    listing = paths["/api/v1/campaigns/{slug}/signatories"]["get"]["responses"]
    assert "SEARCH_MIN_CHARS" in listing["400"]["description"]
    assert "SEARCH_RATE_PER_MINUTE" in listing["429"]["description"]
    assert listing["429"]["headers"]["Retry-After"]
    assert listing["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Erreur"
    }
    # Only where they are answered: the counts are never limited per network.
    counts = paths["/api/v1/campaigns/{slug}/counts"]["get"]["responses"]
    assert "429" not in counts and "SSE_MAX_STREAMS" not in counts["503"]["description"]
