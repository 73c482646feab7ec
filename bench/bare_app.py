"""The baseline of the counts figure: a bare Litestar app answering one constant JSON document.

    BENCH_BODY_FILE=body.json uvicorn bench.bare_app:app --workers 2 ...

`GET /bytes` answers the file's bytes as they are (the cheapest a JSON handler can be: the service
also answers pre-encoded bytes); `GET /data` answers the same document decoded, so that Litestar
encodes it on every request (what a plain handler returning data does).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Response, get

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
DATA = msgspec.json.decode(BODY)


@get("/bytes", media_type=MediaType.JSON)
async def constant_bytes() -> Response[bytes]:
    return Response(BODY, media_type=MediaType.JSON)


@get("/data")
async def constant_data() -> dict[str, Any]:
    return DATA  # type: ignore[no-any-return]


app = Litestar(route_handlers=[constant_bytes, constant_data])
