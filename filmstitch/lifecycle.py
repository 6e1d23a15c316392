"""A flow run started by a runner or worker ends when that runner or worker is killed.

`filmstitch server` (Prefect's runner) and `prefect worker` run each flow run in a child process. If they are
killed outright (SIGKILL, OOM), the child would go on alone: a film paused at a checkpoint keeps waiting for
an hour for answers that can no longer reach it. So such a child watches its parent and exits when the
parent is gone; the next `filmstitch server` marks the run Crashed, and running the film again resumes it
from storage. A film made by `filmstitch make` in the foreground is not a runner's child and is left alone
(closing the terminal stops it the usual way, with SIGHUP).
"""

from __future__ import annotations

import os
import threading
import time

_started = False
_guard = threading.Lock()


def end_with_parent(poll_s: float = 2.0) -> None:
    """In a runner's or worker's flow-run process (Prefect sets PREFECT__FLOW_RUN_ID there), exit as soon as
    the parent process is gone. Safe to call more than once."""
    global _started
    if not os.environ.get("PREFECT__FLOW_RUN_ID"):
        return
    with _guard:
        if _started:
            return
        _started = True
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(70)  # nothing to clean up that storage does not already guarantee (atomic writes)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()
