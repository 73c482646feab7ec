"""An SMTP server that counts the messages each recipient gets (`mailing_sink.py PORT FILE`).

Every second, and at exit (SIGTERM), FILE gets `{"total", "distinct", "duplicates",
"connections"}`: the mailing benchmark checks that each recipient got the message exactly once
(and how many connections brought them). Nothing else is kept.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Recipients:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.connections = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1  # one EHLO per connection (no STARTTLS here)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.counts[rcpt.lower()] += 1
            self.total += 1
        return "250 OK"

    def summary(self) -> str:
        duplicates = sum(n - 1 for n in self.counts.values() if n > 1)
        return json.dumps(
            {
                "total": self.total,
                "distinct": len(self.counts),
                "duplicates": duplicates,
                "connections": self.connections,
            }
        )


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    recipients = Recipients()
    controller = Controller(recipients, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        path.write_text(recipients.summary())
        time.sleep(1)
    controller.stop()
    path.write_text(recipients.summary())


if __name__ == "__main__":
    main()
