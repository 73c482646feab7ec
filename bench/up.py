"""A throwaway PostgreSQL, an SMTP sink and the server, kept running for manual experiments.

    .venv/bin/python bench/up.py [--workers 2] [--no-server]

Prints the DSN, the pgbench connection options and the URL, then waits for Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import campaign_server, smtp_sink, throwaway_postgres


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        info = {
            "dsn": pg.dsn,
            "socket_dir": pg.socket_dir,
            "db": pg.database,
            "tmp": str(pg.tmp),
            "smtp": sink.url,
        }
        with contextlib.ExitStack() as stack:
            if not args.no_server:
                srv = stack.enter_context(
                    campaign_server(
                        pg,
                        sink,
                        workers=args.workers,
                        extra_env=dict(e.split("=", 1) for e in args.env),
                    )
                )
                info |= {"url": srv.url, "pids": srv.pids}
            print(json.dumps(info), flush=True)
            stop.wait()


if __name__ == "__main__":
    main()
