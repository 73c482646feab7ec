"""An SMTP server that accepts every message and only counts them (`smtp_sink.py PORT FILE`).

The count is written to FILE at most every 0.2 s and at exit; nothing is kept.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    written = -1
    while not stop.is_set():
        if counter.count != written:
            written = counter.count
            path.write_text(str(written))
        time.sleep(0.2)
    path.write_text(str(counter.count))
    controller.stop()


if __name__ == "__main__":
    main()
