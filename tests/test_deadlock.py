"""Deadlock detection (SPEC §8): each rule raises, and nothing else ever does.

Every rule is checked twice: in this process (the test suite's own threads
around) and in a fresh interpreter, where the scenario is the whole program.
The other half checks waits that can still end: with a deadline, on a
descriptor, a child process, a timer, a plain thread, a hand-off not yet
picked up. Threads are ordered by their state (``wait_parked``), never by
sleeping.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from helpers import TIMED_WAITS, run_python, timed_wait

import threado
from threado._deadlock import detection_enabled
from threado._parking import add_watcher, block, remove_watcher
from threado._state import clock, get_state
from threado.testing import wait_parked


def deadlock_in(exc: BaseException | None) -> threado.Deadlock | None:
    """The Deadlock in ``exc``'s cause/context chain, if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, threado.Deadlock):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def outcome(t: threado.Thread[Any]) -> BaseException | None:
    t.wait()
    return t.exception


@contextmanager
def sticky_gil() -> Iterator[None]:
    """Let the calling thread keep the GIL until it blocks (hand-off races)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def in_fresh_interpreter(body: str) -> str:
    proc = run_python(body, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


# -- the global rule ---------------------------------------------------------------


def test_main_thread_alone_on_an_event_raises_at_once() -> None:
    ev = threado.Event()
    t0 = time.monotonic()
    with pytest.raises(threado.Deadlock) as info:
        ev.wait()
    assert time.monotonic() - t0 < 5  # generous: "at once" is a few milliseconds
    dl = info.value
    assert isinstance(dl, RuntimeError)
    me = threading.current_thread()
    assert dl.threads[0].ident == me.ident
    assert dl.threads[0].waiting_on is ev
    text = str(dl)
    assert me.name in text
    assert "would wait forever for <threado.Event" in text
    assert "test_deadlock.py" in text  # the stack
    assert "ev.wait()" in text
    # The wait was left cleanly: nobody is queued, and it works again.
    assert "(0 waiting)" in repr(ev)
    ev.set()
    assert ev.wait()


def test_main_thread_alone_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threado
        ev = threado.Event()
        try:
            ev.wait()
        except threado.Deadlock as e:
            print("Deadlock", type(e).__module__, len(e.threads), e.threads[0].name)
        """
    )
    assert out.split() == ["Deadlock", "threado", "1", "MainThread"]


def test_two_threads_joining_each_other_while_main_joins_one() -> None:
    box: dict[str, threado.Thread[Any]] = {}
    gate = threado.Event()

    def join(name: str) -> None:
        gate.wait()
        box[name].join()

    box["a"] = threado.spawn(join, "b", name="A")
    box["b"] = threado.spawn(join, "a", name="B")
    gate.set()
    try:
        box["a"].join()
    except threado.Deadlock as dl:  # the main thread closed it
        found = dl
        box["a"].cancel()
        box["b"].cancel()
    except threado.ThreadError as e:  # A or B closed it
        found = deadlock_in(e)  # type: ignore[assignment]
    assert found is not None
    names = {s.name for s in found.threads}
    assert names == {"A", "B", threading.current_thread().name}
    for t in box.values():
        t.wait()
        assert t.exception is None or t.cancelled or deadlock_in(t.exception) is not None


def test_joining_each_other_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threado
        box = {}
        gate = threado.Event()
        def join(name):
            gate.wait()
            box[name].join()
        box["a"] = threado.spawn(join, "b", name="A")
        box["b"] = threado.spawn(join, "a", name="B")
        gate.set()
        try:
            box["a"].join()
            print("no deadlock?")
        except threado.Deadlock as e:
            print("main raised", sorted(s.name for s in e.threads))
            box["a"].cancel(); box["b"].cancel()
        except threado.ThreadError as e:
            c = e.__cause__
            while c is not None and not isinstance(c, threado.Deadlock):
                c = c.__cause__
            print("thread raised", sorted(s.name for s in c.threads))
        """
    )
    assert out.split(" ", 2)[2].strip() == "['A', 'B', 'MainThread']"


def test_consumer_of_a_queue_nobody_feeds_while_main_joins_it() -> None:
    q: threado.Queue[int] = threado.Queue()
    consumer = threado.spawn(q.get, name="consumer")
    wait_parked(consumer)
    with pytest.raises(threado.Deadlock) as info:
        consumer.join()
    text = str(info.value)
    assert "consumer" in text
    assert "threado.Queue" in text
    assert {s.name for s in info.value.threads} == {"consumer", threading.current_thread().name}
    consumer.cancel()
    assert consumer.cancelled


def test_queue_consumer_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threado
        from threado.testing import wait_parked
        q = threado.Queue()
        consumer = threado.spawn(q.get, name="consumer")
        wait_parked(consumer)
        try:
            consumer.join()
        except threado.Deadlock as e:
            print("Deadlock", [s.name for s in e.threads])
        consumer.cancel()
        """
    )
    assert out.strip() == "Deadlock ['MainThread', 'consumer']"


# -- the cycle rule ---------------------------------------------------------------


def _rlock_cycle() -> threado.Deadlock:
    """T1 holds l1 and waits for l2; main holds l2, then wants l1: main raises."""
    l1, l2 = threado.RLock(), threado.RLock()

    def t1() -> None:
        with l1, l2:
            pass

    with l2:
        t = threado.spawn(t1, name="T1")
        wait_parked(t)  # it holds l1 and waits for l2
        with pytest.raises(threado.Deadlock) as info, l1:
            pass
    assert t.join() is None  # it got l2 once main let go of it
    return info.value


def test_rlock_cycle_raises_while_another_thread_computes() -> None:
    stop = False

    def compute() -> None:  # a plain thread, running all along
        n = 0
        while not stop:
            n += 1

    busy = threading.Thread(target=compute)
    busy.start()
    try:
        dl = _rlock_cycle()
    finally:
        stop = True
        busy.join()
    assert {s.name for s in dl.threads} == {"T1", threading.current_thread().name}
    text = str(dl)
    assert "RLocks owned by each other in a cycle" in text
    assert text.count("holds <locked threado.RLock object owner=") == 2
    assert "with l1, l2:" in text  # T1's stack


def test_rlock_cycle_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threading, threado
        from threado.testing import wait_parked
        stop = False
        def compute():
            while not stop:
                pass
        busy = threading.Thread(target=compute); busy.start()
        l1, l2 = threado.RLock(), threado.RLock()
        def t1():
            with l1, l2:
                pass
        with l2:
            t = threado.spawn(t1, name="T1")
            wait_parked(t)
            try:
                with l1:
                    pass
            except threado.Deadlock as e:
                print("cycle", sorted(s.name for s in e.threads))
        t.join()
        stop = True
        busy.join()
        """
    )
    assert out.strip() == "cycle ['MainThread', 'T1']"


def test_condition_cycle() -> None:
    """B waits on a condition over r2 holding r1; main notifies, then wants r1."""
    r1, r2 = threado.RLock(), threado.RLock()
    cond = threado.Condition(r2)

    def b() -> None:
        with r1, cond:
            cond.wait()  # re-acquiring r2 after the notify: held by main

    t = threado.spawn(b, name="B")
    wait_parked(t)
    found = None
    with cond:
        cond.notify()
        try:
            with r1:
                pass
        except threado.Deadlock as dl:
            found = dl
    # Whichever parked last, main raises: B, re-acquiring in a Condition,
    # could not raise with its lock held (and its `with` would then fail).
    assert outcome(t) is None
    assert found is not None
    assert {s.name for s in found.threads} == {"B", threading.current_thread().name}


def test_condition_cycle_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threado
        from threado.testing import wait_parked
        r1, r2 = threado.RLock(), threado.RLock()
        cond = threado.Condition(r2)
        def b():
            with r1, cond:
                cond.wait()
        t = threado.spawn(b, name="B")
        wait_parked(t)
        found = None
        with cond:
            cond.notify()
            try:
                with r1:
                    pass
            except threado.Deadlock as e:
                found = e
        t.wait()
        c = t.exception
        while found is None and c is not None:
            if isinstance(c, threado.Deadlock):
                found = c
            c = c.__cause__ or c.__context__
        print(sorted(s.name for s in found.threads))
        """
    )
    assert out.strip() == "['B', 'MainThread']"


# -- no deadlock where progress is possible ---------------------------------------------


def test_a_wait_with_its_own_timeout_is_not_a_deadlock() -> None:
    assert threado.Event().wait(0.05) is False
    assert threado.Lock().acquire(timeout=0.05) is True


def _timed_result(kind: str, func: Callable[[], object]) -> object:
    """``func()``'s result, or the name of what it raised (timeouts differ by kind)."""
    try:
        return func()
    except (threado.ThreadError, TimeoutError, queue.Empty) as exc:
        if isinstance(exc, threado.ThreadError):  # join(timeout) raises TimeoutError
            raise
        return type(exc).__name__


#: What a timed-out wait of each kind gives (``timed_wait``).
TIMED_OUT_AS = {
    "event": False,
    "lock": False,
    "rlock": False,
    "condition": False,
    "semaphore": False,
    "queue": "Empty",
    "simple queue": "Empty",
    "join": "TimeoutError",
    "wait": [],
    "sleep": None,
}


@pytest.mark.parametrize("kind", TIMED_WAITS)
def test_every_thread_parked_but_one_wait_times_out_by_itself(kind: str) -> None:
    """Main joins T with no deadline, holding what T waits for, and T waits with
    its own timeout only: were that wait counted as stuck, the global rule
    would fire. It must not: T's wait ends by itself, then T, then the join."""
    held, rheld = threado.Lock(), threado.RLock()
    with held, rheld:
        t = threado.spawn(
            _timed_result, kind, timed_wait(kind, 0.05, held, rheld), name=f"timed-{kind}"
        )
        result = t.join()  # no Deadlock here: T's wait ends by itself
    assert result == TIMED_OUT_AS[kind]


def test_a_cycle_through_a_timed_rlock_wait_is_not_a_deadlock() -> None:
    """T1 holds l1 and waits for l2 with a timeout; main, holding l2, waits for
    l1 with none. Were T1's wait counted, the cycle rule would fire at main's
    park; T1 gives up instead, lets go of l1, and main gets it."""
    l1, l2 = threado.RLock(), threado.RLock()

    def t1() -> bool:
        with l1:
            return l2.acquire(timeout=0.1)

    with l2:
        t = threado.spawn(t1, name="T1")
        wait_parked(t)  # it holds l1 and waits for l2
        with l1:  # no Deadlock: T1's wait ends by itself
            pass
    assert t.join() is False


def test_timed_waits_in_a_fresh_interpreter() -> None:
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    out = in_fresh_interpreter(
        f"""
        import sys
        sys.path.insert(0, {tests_dir!r})
        import threado, threado.testing
        from helpers import TIMED_WAITS, timed_wait
        for kind in TIMED_WAITS:
            held, rheld = threado.Lock(), threado.RLock()
            with held, rheld:
                t = threado.spawn(timed_wait(kind, 0.02, held, rheld))
                try:
                    t.join()
                except threado.ThreadError as e:
                    assert not isinstance(e.__cause__, threado.Deadlock), kind
        l1, l2 = threado.RLock(), threado.RLock()
        def t1():
            with l1:
                return l2.acquire(timeout=0.05)
        with l2:
            t = threado.spawn(t1)
            threado.testing.wait_parked(t)
            with l1:
                pass
        print("no deadlock", t.join())
        """
    )
    assert out.strip() == "no deadlock False"


def test_an_enclosing_timeout_is_not_a_deadlock() -> None:
    with pytest.raises(threado.ThreadTimeout):
        with threado.timeout_after(0.05):
            threado.Event().wait()
    with threado.ignore_after(0.05) as scope:
        threado.Queue[int]().get()
    assert scope.expired


def test_a_timeout_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threado
        print(threado.Event().wait(0.05))
        with threado.ignore_after(0.05) as s:
            threado.Event().wait()
        print(s.expired)
        """
    )
    assert out.split() == ["False", "True"]


def _send_later(sock: socket.socket, delay: float) -> subprocess.Popen[bytes]:
    """A child process (no thread of ours) that sends a byte on ``sock`` later."""
    code = f"import os, time; time.sleep({delay}); os.write({sock.fileno()}, b'x')"
    return subprocess.Popen([sys.executable, "-c", code], pass_fds=[sock.fileno()])


def test_a_socket_wait_is_not_a_deadlock() -> None:
    import threado.socket as tsocket

    a, b = tsocket.socketpair()
    child = _send_later(b, 0.2)
    try:
        reader = threado.spawn(a.recv, 1, name="reader")
        wait_parked(reader)
        assert reader.join() == b"x"  # main parked with no deadline: no Deadlock
    finally:
        child.wait()
        a.close()
        b.close()


def test_a_descriptor_wait_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import os, subprocess, sys, threado
        r, w = os.pipe()
        child = subprocess.Popen(
            [sys.executable, "-c", f"import os, time; time.sleep(0.2); os.write({w}, b'x')"],
            pass_fds=[w])
        t = threado.spawn(threado.wait_readable, r, name="reader")
        t.join()
        child.wait()
        print("read", os.read(r, 1))
        """
    )
    assert out.strip() == "read b'x'"


def test_a_child_process_wait_is_not_a_deadlock() -> None:
    import threado.subprocess as tsub

    def child() -> int:
        return tsub.run([sys.executable, "-c", "import time; time.sleep(0.2)"]).returncode

    t = threado.spawn(child, name="parent-of-child")
    assert t.join() == 0


def test_a_timer_condition_is_not_a_deadlock() -> None:
    t = threado.spawn(threado.wait, [threado.after(0.1)], name="timer")
    assert len(t.join()) == 1


def test_a_plain_running_thread_is_progress() -> None:
    ev = threado.Event()
    waiter = threado.current_thread()

    def compute_then_set() -> None:  # a plain thread, busy until main parks
        while waiter._state.waiting_on is not ev:
            pass
        ev.set()

    t = threading.Thread(target=compute_then_set)
    t.start()
    assert ev.wait()
    t.join()


def test_an_unpatched_sleep_that_later_sets_the_event() -> None:
    ev = threado.Event()

    def later() -> None:
        time.sleep(0.2)  # a plain, unpatched wait
        ev.set()

    t = threading.Thread(target=later)
    t.start()
    assert ev.wait()
    t.join()


def test_an_unpatched_sleep_in_a_fresh_interpreter() -> None:
    out = in_fresh_interpreter(
        """
        import threading, time, threado
        ev = threado.Event()
        def later():
            time.sleep(0.2)
            ev.set()
        threading.Thread(target=later).start()
        print(ev.wait())
        """
    )
    assert out.strip() == "True"


def wait_parked_on(t: threado.Thread[Any], what: object, timeout: float = 10) -> None:
    """Return once ``t`` is parked on ``what`` (woken by each of its parks)."""
    me = get_state()
    deadline = clock() + timeout
    while True:
        add_watcher(t._state, me)
        try:
            if t._state.waiting_on is what:
                return
            if not block(me, deadline) and clock() >= deadline:
                raise TimeoutError(f"{t!r} did not park on {what!r}")
        finally:
            remove_watcher(t._state, me)


def test_detection_can_be_turned_off() -> None:
    """With detection off, an RLock cycle is left alone (main cancels it)."""
    assert detection_enabled()
    threado.deadlock_detection(False)
    try:
        assert not detection_enabled()
        l1, l2 = threado.RLock(), threado.RLock()
        both = threado.Barrier(2)

        def take(first: threado.RLock, second: threado.RLock) -> None:
            with first:
                both.wait()
                with second:
                    pass

        t1 = threado.spawn(take, l1, l2, name="T1")
        t2 = threado.spawn(take, l2, l1, name="T2")
        wait_parked_on(t1, l2)
        wait_parked_on(t2, l1)  # the cycle is closed, and nobody raised
        assert t1.cancel()
        assert t1.cancelled
        assert t2.join() is None  # it got l1 once T1's with block let go
    finally:
        threado.deadlock_detection(True)
    assert detection_enabled()
    with pytest.raises(TypeError):
        threado.deadlock_detection(1)  # type: ignore[arg-type]


def test_detection_off_in_a_fresh_interpreter() -> None:
    # The main thread waits forever; faulthandler's watchdog (a native thread,
    # not counted) ends the process after a second, with every stack.
    proc = run_python(
        """
        import faulthandler, threado
        threado.deadlock_detection(False)
        faulthandler.dump_traceback_later(1, exit=True)
        threado.Event().wait()
        """
    )
    assert proc.returncode != 0
    assert "Deadlock" not in proc.stderr
    assert "Timeout" in proc.stderr


def test_a_lock_handed_over_but_not_yet_picked_up() -> None:
    """Main releases a lock to a parked waiter, then waits for it: not a deadlock."""
    lock = threado.Lock()
    done = threado.Event()
    lock.acquire()

    def taker() -> None:
        with lock:
            done.set()

    t = threado.spawn(taker, name="taker")
    wait_parked(t)
    with sticky_gil():  # taker cannot run before main parks
        lock.release()  # hands the lock to taker (or wakes it to retry)
        assert done.wait()
    t.join()


@pytest.mark.parametrize("kind", ["event", "queue", "semaphore", "condition", "rlock"])
def test_hand_offs_not_yet_picked_up(kind: str) -> None:
    done = threado.Event()
    obj: Any
    if kind == "event":
        obj = threado.Event()
        take: Callable[[], object] = obj.wait
        give: Callable[[], object] = obj.set
    elif kind == "queue":
        obj = threado.Queue()
        take, give = obj.get, lambda: obj.put(1)
    elif kind == "semaphore":
        obj = threado.Semaphore(0)
        take, give = obj.acquire, obj.release
    elif kind == "condition":
        obj = threado.Condition()

        def take() -> None:
            with obj:
                obj.wait()

        def give() -> None:
            with obj:
                obj.notify()
    else:
        obj = threado.RLock()
        obj.acquire()
        take, give = (lambda: obj.acquire() and obj.release()), obj.release

    def taker() -> None:
        take()
        done.set()

    t = threado.spawn(taker, name="taker")
    wait_parked(t)
    with sticky_gil():
        give()
        assert done.wait()
    t.join()


def test_a_pending_cancel_is_progress() -> None:
    """Main cancels a parked thread, then joins it before it has resumed."""
    t = threado.spawn(threado.Event().wait, name="victim")
    wait_parked(t)
    with sticky_gil():
        t.cancel(blocking=False)
        with pytest.raises(threado.ThreadError):
            t.join()
    assert t.cancelled


def test_a_python_signal_handler_counts_as_a_possible_waker() -> None:
    # A child process (no thread of ours) signals us later; the handler sets
    # the event the main thread waits on alone.
    out = in_fresh_interpreter(
        """
        import os, signal, subprocess, sys, threado
        ev = threado.Event()
        signal.signal(signal.SIGUSR1, lambda *a: ev.set())
        code = f"import os, signal, time; time.sleep(0.2); os.kill({os.getpid()}, signal.SIGUSR1)"
        child = subprocess.Popen([sys.executable, "-c", code])
        print(ev.wait())
        child.wait()
        """
    )
    assert out.strip() == "True"


def test_native_exit_of_a_joined_thread_is_not_a_deadlock() -> None:
    # Joining a thread that is ending (its function returned; its end hook
    # has not set the handle yet) must not look like joining a parked one.
    for _ in range(50):
        t = threado.spawn(lambda: None)
        t.join()


def test_the_deadlocked_thread_keeps_nothing_it_was_handed() -> None:
    # After a Deadlock the primitive works normally for everybody.
    sem = threado.Semaphore(0)
    with pytest.raises(threado.Deadlock):
        sem.acquire()
    sem.release()
    assert sem.acquire(timeout=1)
    assert "(0 waiting)" in repr(sem)


def test_fork_child_starts_clean() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    out = in_fresh_interpreter(
        """
        import os, threado
        pid = os.fork()
        if pid == 0:
            try:
                threado.Event().wait()
            except threado.Deadlock:
                os._exit(7)
            os._exit(0)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        """
    )
    assert out.strip() == "7"


def test_a_deadlocking_pytest_test_fails_at_once_with_the_report(tmp_path: Any) -> None:
    # pytest-timeout's alarm handler only fails the test: it does not count as
    # a possible waker, so the hung test fails now, with the report.
    test = tmp_path / "test_hangs.py"
    test.write_text(
        "import threado\n"
        "def test_hangs():\n"
        "    q = threado.Queue()\n"
        "    consumer = threado.spawn(q.get, name='consumer')\n"
        "    try:\n"
        "        consumer.join()\n"
        "    finally:\n"
        "        consumer.cancel()\n"
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=60", str(test)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert time.monotonic() - t0 < 50  # generous: the test itself takes milliseconds
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "threado.Deadlock: deadlock: '" in proc.stdout  # main or consumer closed it
    assert "Thread 'consumer'" in proc.stdout
    assert "Thread 'MainThread'" in proc.stdout


# -- a Condition's re-acquire never raises without its lock -------------------------


@pytest.mark.parametrize("kind", ["rlock", "lock"])
def test_a_condition_reacquire_completing_a_deadlock_leaves_the_raise_to_another(
    kind: str,
) -> None:
    """B, notified, re-acquires the lock main holds while main waits forever.

    B's park completes the picture, but B cannot raise with its lock held:
    main (the other thread of the deadlock) raises instead, releases the lock
    as its ``with`` ends, and B's ``wait()`` returns with the lock held.
    """
    cond = threado.Condition(threado.RLock() if kind == "rlock" else threado.Lock())
    forever = threado.Event()
    seen: list[object] = []

    def b() -> None:
        try:
            with cond:
                seen.append(cond.wait())
                seen.append(cond._is_owned())
        finally:
            forever.set()  # had B raised instead, main would wait no more

    t = threado.spawn(b, name="B")
    wait_parked(t)
    with cond, pytest.raises(threado.Deadlock) as info:
        cond.notify()
        forever.wait()
    assert outcome(t) is None
    assert seen == [True, True]
    assert {s.name for s in info.value.threads} == {"B", threading.current_thread().name}
