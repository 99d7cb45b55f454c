"""A crawler pool whose stragglers are cancelled by ``shutdown(cancel_futures=True)``.

``threado.ThreadPoolExecutor`` is a drop-in for
``concurrent.futures.ThreadPoolExecutor``. The crawler needs the first three
pages; the rest are stragglers stuck on a slow server. With the standard
pool, ``shutdown(cancel_futures=True)`` cancels only the jobs still queued
and then waits for the running ones (here: a minute). threado's cancels the
running fetches too: each one's blocking call raises ``ThreadCancelled``,
its ``finally`` closes the connection, and ``shutdown`` returns at once.

Run it with ``python examples/crawler_pool.py``.
"""

import concurrent.futures as cf
import time

import threado

#: How long each "server" takes to answer, in seconds.
DELAYS = {"a": 0.01, "b": 0.02, "c": 60.0, "d": 0.03, "e": 60.0, "f": 60.0}

lock = threado.Lock()
started: list[str] = []
closed: list[str] = []


def fetch(url: str) -> str:
    """Fetch ``url``: a blocking wait for the server, then the page."""
    with lock:
        started.append(url)
    try:
        threado.sleep(DELAYS[url])  # the network wait: a blocking point
        return f"page {url}"
    finally:
        with lock:
            closed.append(url)  # "close the connection"


def main() -> None:
    t0 = time.monotonic()
    pool = threado.ThreadPoolExecutor(max_workers=len(DELAYS), thread_name_prefix="crawler")
    futures = {pool.submit(fetch, url): url for url in DELAYS}
    pages = []
    for f in cf.as_completed(futures):
        pages.append(f.result())
        if len(pages) == 3:
            break
    pool.shutdown(wait=True, cancel_futures=True)  # the stragglers too
    elapsed = time.monotonic() - t0
    print(f"main: first three pages: {sorted(pages)}")
    stragglers = sorted(url for f, url in futures.items() if f.cancelled())
    print(f"main: stragglers cancelled: {stragglers}")
    print(f"main: every started fetch closed its connection: {sorted(started) == sorted(closed)}")
    print(f"main: shutdown took well under a minute: {elapsed < 10}")
    left = [t.name for t in threado.threads() if "crawler" in t.name]
    print(f"main: crawler threads left: {left}")
    print("crawler_pool finished")


if __name__ == "__main__":
    main()
