"""``import threado`` stays light: the I/O layer, ``logging`` and ``typing`` load on first use.

Each test runs in a fresh interpreter, since what an import loads is
process-wide and this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: Standard modules that ``import threado`` must not load (threado's I/O
#: layer and its reports use them; a program that does neither should not pay).
HEAVY = ("ssl", "subprocess", "socket", "select", "selectors", "logging")
#: And the ones threado's own code needs only for type checkers or in a rarely
#: used call (``typing`` alone was ~10 ms, most of the import; see ``_typing``).
TYPING = ("typing", "re", "contextlib", "sysconfig", "collections.abc")
#: And what threado loads when first needed: the queues (queue, heapq), the
#: deadlock detector with introspection, and the CancelReason enumeration (enum).
ON_FIRST_USE = (
    "enum",
    "math",
    "weakref",
    "queue",
    "heapq",
    "threado._queues",
    "threado._simplequeue",
    "threado._deadlock",
    "threado._introspect",
    "threado._reasons",
)


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter; fail with its stderr if it fails."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_importing_threado_loads_no_io_module() -> None:
    out = run_fresh(
        f"""
        import sys
        before = set(sys.modules)  # what start-up loaded (site hooks) is not ours
        import threado
        added = set(sys.modules) - before
        print(sorted(name for name in {HEAVY + TYPING + ON_FIRST_USE!r} if name in added))
        """
    )
    assert out.strip() == "[]"


def test_generic_classes_subscript_at_run_time_without_typing() -> None:
    run_fresh(
        """
        import sys, types
        import threado
        for cls in (threado.Queue, threado.LifoQueue, threado.SimpleQueue, threado.Thread):
            alias = cls[int]
            assert isinstance(alias, types.GenericAlias), cls
            assert alias.__origin__ is cls and alias.__args__ == (int,), cls

        class Mine(threado.Queue[int]):  # a generic alias as a base, as with queue.Queue
            pass

        assert Mine.__mro__[1] is threado.Queue
        assert "typing" not in sys.modules
        """
    )


def test_the_io_layer_works_once_asked_for() -> None:
    run_fresh(
        """
        import os, sys
        import threado
        from threado import wait_readable, wait_writable

        r, w = os.pipe()
        assert wait_writable(w, timeout=5)
        os.write(w, b"x")
        assert wait_readable(r, timeout=5)
        assert threado.wait_readable is wait_readable  # bound once resolved
        for name in ("socket", "select", "ssl", "subprocess", "testing"):
            module = getattr(threado, name)
            assert module is sys.modules["threado." + name], name
        a, b = threado.socket.socketpair()
        a.sendall(b"ok")
        assert b.recv(2) == b"ok"
        a.close()
        b.close()
        assert threado.subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
        """
    )


def test_dir_and_all_list_the_lazy_names_before_they_load() -> None:
    run_fresh(
        """
        import sys
        import threado

        listed = set(dir(threado))
        missing = set(threado.__all__) - listed
        assert not missing, missing
        assert {"socket", "select", "ssl", "subprocess", "testing"} <= listed
        assert "threado._fdwait" not in sys.modules
        """
    )


def test_a_misspelt_name_is_still_an_attribute_error() -> None:
    run_fresh(
        """
        import threado

        try:
            threado.sockets
        except AttributeError as exc:
            assert "sockets" in str(exc), exc
        else:
            raise AssertionError("no AttributeError")
        try:
            from threado import wait_readble  # noqa: F401
        except ImportError:
            pass
        else:
            raise AssertionError("no ImportError")
        """
    )


def test_patch_after_a_light_import_binds_the_originals() -> None:
    # threado's I/O modules keep the standard library's functions, bound when
    # they are imported: patch() must import them before replacing anything.
    run_fresh(
        """
        import select, selectors, socket, subprocess
        import threado

        originals = (select.poll, select.select, socket.socket, subprocess.Popen)
        threado.patch()
        try:
            assert select.poll is threado.select.poll
            assert socket.socket is threado.socket.socket
            assert threado._fdwait._stdpoll is originals[0]
            assert threado.select._stdpoll is originals[0]
            assert threado.select._stdselect is originals[1]
            assert threado.socket._stdsocket is originals[2]
            assert threado.subprocess._StdPopen is originals[3]
            with selectors.DefaultSelector() as sel:
                sel.select(0)
            assert threado.subprocess.run(["true"]).returncode == 0
        finally:
            threado.unpatch()
        assert (select.poll, select.select, socket.socket, subprocess.Popen) == originals
        """
    )


def test_a_failure_is_still_reported_with_logging_loaded_late() -> None:
    out = run_fresh(
        """
        import gc, sys
        import threado

        assert "logging" not in sys.modules

        def fail() -> None:
            raise ValueError("lazy-report")

        t = threado.spawn(fail)
        t.wait()
        assert "logging" in sys.modules  # loaded as the thread failed, not in __del__
        del t
        gc.collect()
        """
    )
    assert "never retrieved" in out
    assert "ValueError: lazy-report" in out


def test_the_deadlock_detector_loads_at_the_first_spawn_or_park() -> None:
    out = run_fresh(
        """
        import sys, threado
        loaded_by_import = "threado._deadlock" in sys.modules
        print(loaded_by_import, threado.deadlock_detection.__module__)
        """
    )
    # Importing threado does not load it; asking for deadlock_detection does.
    assert out.split() == ["False", "threado._deadlock"]
    out = run_fresh(
        """
        import sys, threado
        threado.spawn(lambda: None).join()
        print("threado._deadlock" in sys.modules, threado._deadlock.detection_enabled())
        """
    )
    assert out.split() == ["True", "True"]
    out = run_fresh(
        """
        import sys, threado
        ev = threado.Event()
        try:
            ev.wait()  # the first park with no deadline loads the detector, which raises
        except threado.Deadlock:
            print("Deadlock", "threado._deadlock" in sys.modules)
        """
    )
    assert out.split() == ["Deadlock", "True"]


def test_detection_turned_off_before_it_loads_stays_off() -> None:
    out = run_fresh(
        """
        import threado
        threado.deadlock_detection(False)
        ev = threado.Event()
        with threado.ignore_after(0.2):  # a deadline: checks it waited, and ends it
            t = threado.spawn(ev.wait)
            print(t.wait(0.1))
        t.cancel()
        print(threado._deadlock.detection_enabled())
        """
    )
    assert out.split() == ["False", "False"]


def test_cancel_reason_is_a_real_enum_loaded_on_first_use() -> None:
    out = run_fresh(
        """
        import enum, pickle, sys
        import threado
        exc = threado.ThreadCancelled("x", threado.CancelReason.GROUP)
        group = threado.CancelReason.GROUP
        print(isinstance(group, enum.Enum), exc.reason is group)
        print(pickle.loads(pickle.dumps(exc)).reason is threado.CancelReason.GROUP)
        print(threado.ThreadCancelled().reason is threado.CancelReason.EXPLICIT)
        """
    )
    assert out.split() == ["True", "True", "True", "True"]
