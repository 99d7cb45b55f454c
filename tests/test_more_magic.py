"""more_magic(): libraries imported inside the block become cancellable (SPEC §6)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_library_imported_under_more_magic_is_cancellable(tmp_path: Path) -> None:
    (tmp_path / "somelib.py").write_text(
        textwrap.dedent(
            """
            import time, queue
            from threading import Event
            def nap(): time.sleep(60)
            def wait_event(): Event().wait()
            def get(): queue.Queue().get()
            """
        )
    )
    code = textwrap.dedent(
        """
        import sys, time, threading, threado
        from threado.testing import wait_parked
        with threado.more_magic():
            import somelib
        print(threado.is_patched(), time.sleep is threado.get_original("time", "sleep"))
        for f in (somelib.nap, somelib.wait_event, somelib.get):
            t = threado.spawn(f)
            wait_parked(t)
            print(f.__name__, t.cancel(timeout=5), t.cancelled)
        print(threading.Lock is threado.get_original("threading", "Lock"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:5] == [
        "False True",
        "nap True True",
        "wait_event True True",
        "get True True",
        "True",
    ]
