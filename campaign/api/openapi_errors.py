"""The error answers of the JSON API, written into the OpenAPI document.

Every API operation may answer the errors of the app's own handlers (campaign/app.py) — bad
parameters (400), an unknown campaign (404), a body too large (413), invalid fields (422), the
database unavailable (503 with `Retry-After`) — with the same JSON body; a few operations also
answer bounds of their own (a live stream refused, a search too short or too frequent), each
described in its words. The route decorators document their successes; this adds the errors to
every operation in one place, at start-up (after every route is registered), so that the
document tells the truth a client (and the Schemathesis test) can rely on.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

ERROR_SCHEMA_NAME = "Erreur"
ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status_code", "detail"],
    properties={
        "status_code": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "extra": Schema(description="Précisions : pour un 422, la liste des champs invalides."),
        "error_id": Schema(
            type=OpenAPIType.STRING, description="Référence de l’erreur, reprise dans le journal."
        ),
    },
    description="Réponse d’erreur de l’API.",
)
READY_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status"],
    properties={"status": Schema(type=OpenAPIType.STRING)},
)

_DESCRIPTIONS = {
    "400": "Paramètres ou corps invalides (le champ en cause est nommé).",
    "404": "Campagne inconnue.",
    "409": "La signature de cette lettre est close.",
    "413": "Corps de requête trop volumineux (64 Kio au plus).",
    "422": "Champs invalides : `extra` liste chacun avec son message.",
    "503": "Base de données momentanément indisponible : réessayer après `Retry-After` secondes.",
}


# The bounds of issue 15 §2, answered by one operation each, in the words of its own refusal.
_OWN_DESCRIPTIONS = {
    "streamCounts": {
        "503": "Trop de flux en direct ouverts, par ce processus (`SSE_MAX_STREAMS`) ou depuis "
        "le réseau du client (`SSE_MAX_PER_NETWORK`, un /24 ou /56), ou base de données "
        "momentanément indisponible\u00a0: réessayer après `Retry-After` secondes et, en "
        "attendant, interroger les compteurs (`getCounts`).",
    },
    "listSignatories": {
        "400": "Paramètres invalides (le champ en cause est nommé), dont une recherche `q` trop "
        "courte\u00a0: `SEARCH_MIN_CHARS` caractères au moins (3 par défaut), espaces non "
        "comptés\u00a0; "
        '`extra` vaut alors `[{"key": "q", "message": "Au moins 3 caractères."}]`.',
        "429": "Trop de recherches (`q`) depuis le réseau du client (un /24 ou /56) dans la "
        "minute (`SEARCH_RATE_PER_MINUTE`, 60 par défaut)\u00a0: réessayer après `Retry-After` "
        "secondes. La liste sans recherche n’est pas limitée.",
    },
}
_RETRY_AFTER = {"429", "503"}


def _error(status: str, description: str | None = None) -> OpenAPIResponse:
    headers: dict[str, OpenAPIHeader | Reference] | None = None
    if status in _RETRY_AFTER:
        headers = {
            "Retry-After": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.STRING), description="Secondes avant de réessayer."
            )
        }
    return OpenAPIResponse(
        description=description or _DESCRIPTIONS[status],
        headers=headers,
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{ERROR_SCHEMA_NAME}")
            )
        },
    )


def _statuses(path: str, method: str, operation: Operation) -> list[str]:
    if path == "/health":
        return []
    statuses = ["400", "503"]
    if "{" in path:
        statuses.append("404")
    # A body: the signing operation documents its own in `to_schema` (campaign/api.py).
    if method != "get" or operation.request_body is not None:
        statuses += ["409", "413", "422"]
    return statuses


def document_errors(app: Litestar) -> None:
    """Adds the error answers to every operation of the app's OpenAPI document."""
    openapi = app.openapi_schema
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    openapi.components.schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            if path == "/ready" and "503" not in responses:
                responses["503"] = OpenAPIResponse(
                    description="Base injoignable ou migrations en attente.",
                    content={"application/json": OpenAPIMediaType(schema=READY_SCHEMA)},
                )
                continue
            own = _OWN_DESCRIPTIONS.get(operation.operation_id or "", {})
            for status, description in own.items():
                responses[status] = _error(status, description)
            for status in _statuses(path, method, operation):
                responses.setdefault(status, _error(status))
            operation.responses = responses
