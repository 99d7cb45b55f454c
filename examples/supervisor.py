"""A supervisor that reacts to whichever comes first, with one ``threado.wait()``.

It watches a worker thread, a child process, a socket, SIGTERM and a timer,
and handles each as it happens, with no polling loop and no helper thread
per source. To run by itself in a few seconds, it arranges for each source
to fire in turn: the socket gets a message, the child exits, the worker
finishes, the process sends itself SIGTERM, and the timer ends the watch.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import threado


def worker(n: int) -> int:
    threado.sleep(0.3)  # some work (a blocking point: cancellable)
    return sum(range(n))


def main() -> None:
    # signalled() must be created in the main thread the first time (Python
    # installs signal handlers only there); SIGTERM no longer ends the
    # process while it is installed: we decide what to do.
    term = threado.signalled(signal.SIGTERM)
    control, peer = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    job = threado.spawn(worker, 1000)
    timer = threado.after(3.0)  # the supervisor's own patience

    # Make each source fire in turn, from a helper thread.
    def stimulate() -> None:
        peer.sendall(b"status?")
        threado.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    helper = threado.spawn(stimulate)

    watching: list[object] = [job, threado.exited(child), threado.readable(control), term, timer]
    try:
        while watching:
            for ready in threado.wait(watching):
                if ready is job:
                    print(f"supervisor: worker finished with {job.join()}")
                    watching.remove(job)
                elif isinstance(ready, threado.exited):
                    print(f"supervisor: child exited with status {child.wait()}")
                    watching.remove(ready)
                elif isinstance(ready, threado.readable):
                    print(f"supervisor: socket says {control.recv(100)!r}")
                    watching.remove(ready)
                elif ready is term:
                    print(f"supervisor: SIGTERM received ({term.count}x): shutting down soon")
                    watching.remove(term)
                elif ready is timer:
                    print("supervisor: timer fired: stop watching")
                    watching.clear()
    finally:
        helper.join()
        job.cancel()
        child.wait()
        control.close()
        peer.close()
    print("supervisor finished")


if __name__ == "__main__":
    main()
