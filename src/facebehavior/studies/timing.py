"""Wall time of a recipe summed over its sessions, so an interrupted and resumed run still
reports how long it really took.

Each session is one entry in ``timing.json``; a daemon thread stamps the running session every
few seconds, so a session that is killed (SIGKILL, power loss) still counts up to its last stamp.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from facebehavior import atomic


class WallClock:
    def __init__(self, path: str | Path, resume: bool, every_s: float = 10.0):
        self.path = Path(path)
        self.every_s = every_s
        previous = json.loads(self.path.read_text()) if resume and self.path.is_file() else {}
        self.sessions: list[dict] = list(previous.get("sessions", []))
        self._start = time.time()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.sessions.append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "seconds": 0.0, "finished": False})

    def _stamp(self, finished: bool = False) -> None:
        with self._lock:
            self.sessions[-1]["seconds"] = round(time.time() - self._start, 1)
            self.sessions[-1]["finished"] = finished
            record = {"sessions": self.sessions, "total_seconds": self.total()}
            atomic.write_text(self.path, json.dumps(record, indent=1))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._stamp()

    def total(self) -> float:
        return round(sum(s["seconds"] for s in self.sessions), 1)

    def __enter__(self) -> "WallClock":
        self._stamp()
        threading.Thread(target=self._loop, name="wallclock", daemon=True).start()
        return self

    def __exit__(self, exc_type, *_) -> None:
        self._stop.set()
        self._stamp(finished=exc_type is None)
