"""The public face: ``threado.__all__`` lists exactly the public names."""

from __future__ import annotations

import queue
import subprocess
import sys

import threado
import threado.testing


def test_all_matches_the_public_names() -> None:
    # dir(): the I/O names load lazily (PEP 562), and the module's __dir__ lists them.
    public = {name for name in dir(threado) if not name.startswith("_")}
    # Public submodules appear as attributes once imported.
    modules = {"testing", "socket", "select", "ssl", "subprocess"}
    assert set(threado.__all__) == public - modules
    assert len(threado.__all__) == len(set(threado.__all__))


def test_public_classes_say_threado_in_tracebacks() -> None:
    for name in threado.__all__:
        obj = getattr(threado, name)
        if isinstance(obj, type):
            if name == "ShutDown" and hasattr(queue, "ShutDown"):
                # SPEC §4: the same class as queue.ShutDown where the stdlib has one.
                assert obj is queue.ShutDown
                continue
            assert obj.__module__ == "threado", name


def test_testing_module_exports() -> None:
    assert threado.testing.__all__ == ["ExploreResult", "explore", "replay", "wait_parked"]


def test_importing_threado_patches_nothing_and_starts_no_thread() -> None:
    code = (
        "import socket, threading, time, queue, select\n"
        "before = (time.sleep, socket.socket, threading.Lock, threading.Event, queue.Queue,"
        " select.select, threading.active_count())\n"
        "import threado\n"
        "after = (time.sleep, socket.socket, threading.Lock, threading.Event, queue.Queue,"
        " select.select, threading.active_count())\n"
        "assert before == after, (before, after)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_the_api_reference_covers_every_public_name() -> None:
    from pathlib import Path

    api = (Path(__file__).resolve().parents[1] / "docs" / "api.rst").read_text()
    missing = [
        name
        for name in threado.__all__
        if not any(
            f":: {name}" in line or f":: {name}(" in line or f":: {name}\n" in line
            for line in api.splitlines(keepends=True)
        )
    ]
    assert missing == []
