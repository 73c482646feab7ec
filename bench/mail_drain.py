"""How fast the mail worker sends a rush's backlog, and what one message costs to build.

    .venv/bin/python bench/mail_drain.py [--sign-seconds 8] [--seconds 10]

First, in this process, building and flattening one confirmation email as the worker does
(`campaign.mail.build_message` + `flatten`), a few thousand times: milliseconds per message.
Then a throwaway embedded PostgreSQL, `campaign serve --workers 2 --no-worker`, wrk signing for
`--sign-seconds` (a backlog of confirmation emails, nothing sent yet), and `campaign worker`
started alone against an SMTP sink in a subprocess: messages sent per second over `--seconds`,
and the CPU share of the worker, the sink and PostgreSQL meanwhile. Informational: no target,
no baseline (what the rush figures depend on is in bench_sign.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    BENCH,
    SLUG,
    CpuAccount,
    campaign_server,
    fetch,
    fetchval,
    log,
    mail_worker,
    popular_communes,
    smtp_sink,
    throwaway_postgres,
    wrk,
)

from campaign.mail.message import RenderedEmail, build_message, flatten


def build_cost(n: int = 3000) -> float:
    """Milliseconds to build and flatten a confirmation-sized email (7 kB, French text)."""
    line = (
        "Madame la maire, vous avez signé la lettre « Jouer collectif ». Pour confirmer : "
        "https://jouer-collectif.example/confirmer/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456\n"
    )
    rendered = RenderedEmail(
        subject="Confirmez votre signature — Jouer collectif",
        text=line * 6,
        html="<html><body>" + "<p>Élu·e de Saint-Étienne, « Jouer collectif ».</p>\n" * 40,
    )

    def one() -> bytes:
        message = build_message(
            rendered,
            sender="Jouer collectif <lettre@jouer-collectif.example>",
            recipient="anne.martin@mairie-exemple.fr",
            message_id_domain="jouer-collectif.example",
            headers={"List-Unsubscribe": "<https://jouer-collectif.example/retirer/abc>"},
        )
        return flatten(message)

    for _ in range(200):
        one()
    started = time.perf_counter()
    for _ in range(n):
        one()
    return (time.perf_counter() - started) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sign-seconds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    print(f"building and flattening one email: {build_cost():.3f} ms", flush=True)
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        codes = pg.tmp / "codes.txt"
        codes.write_text("\n".join(popular_communes(pg.dsn)) + "\n")
        env = {"TRUSTED_PROXIES": "127.0.0.1"}
        with campaign_server(pg, sink, workers=2, extra_env=env, no_worker=True) as srv:
            url = f"{srv.url}/api/v1/campaigns/{SLUG}/signatures"
            log(f"signing for {args.sign_seconds} s: the backlog")
            wrk(
                url,
                BENCH / "wrk" / "sign.lua",
                connections=64,
                seconds=args.sign_seconds,
                args=["d", str(codes)],
            )
            queued = fetchval(pg.dsn, "SELECT count(*) FROM outbox WHERE status = 'queued'")
            with mail_worker(pg, sink, srv.url) as proc:
                before = fetchval(pg.dsn, "SELECT count(*) FROM outbox WHERE status = 'sent'")
                cpu = CpuAccount(
                    postgres=[pg.pid], mail_worker=[proc.pid], smtp_sink=[sink.proc.pid]
                )
                cpu.start()
                time.sleep(args.seconds)
                share = cpu.stop()
                after = fetchval(pg.dsn, "SELECT count(*) FROM outbox WHERE status = 'sent'")
        errors = fetch(pg.dsn, "SELECT count(*) AS n FROM outbox WHERE status = 'failed'")[0]["n"]
    rate = (after - before) / args.seconds
    print(
        f"backlog of {queued} emails: {rate:.0f} sent/s over {args.seconds} s, "
        f"failed {errors}, CPU {share}",
        flush=True,
    )
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
