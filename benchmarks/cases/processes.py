"""Beyond one process: ``threado.ProcessPoolExecutor`` (and Dask, Ray) against their peers.

* submit + result round trip of a trivial job, one worker each, against
  ``concurrent.futures.ProcessPoolExecutor`` (the same ``forkserver``
  context on both sides; target 1.2x);
* throughput of ``map`` over 1000 small jobs against the standard pool's
  ``map`` (time per job; target: no worse than 1/0.9 of the stdlib's);
* cancel of a running job until its future is done (the job blocked in
  ``threado.sleep`` in the worker, which said it started), p50/p99. The
  standard pool cannot cancel a running job: its column holds the stdlib's
  submit + result round trip, for scale (report only);
* with the ``dask``/``ray`` extras installed, full mode only (a cluster
  takes seconds to start): the round trip through ``threado.dask.Executor``
  against ``client.submit(...).result()``, and through ``threado.ray.Executor``
  against ``ray.get(f.remote())`` (target 1.2x).

The pools (and the engines' executors) are started once, warmed, and shut down
at exit.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import socket
import tempfile
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns
from typing import Any

from harness import Case, LatencyCase, TimeCase

import threado

_pools: dict[str, Any] = {}


def trivial() -> int:
    return 1


def small(x: int) -> int:
    return x + 1


def blocked(address: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(address)
    s.sendall(b"s")
    try:
        threado.sleep(600)
    finally:
        s.close()


def _pool(kind: str) -> Any:
    """The shared one-worker pool of ``kind`` ("stdlib", "threado" or "map-...")."""
    pool = _pools.get(kind)
    if pool is None:
        ctx = multiprocessing.get_context("forkserver")
        workers = 2 if kind.startswith("map-") else 1
        if kind.endswith("stdlib"):
            pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx)
        else:
            pool = threado.ProcessPoolExecutor(workers, mp_context=ctx)
        for f in [pool.submit(trivial) for _ in range(workers * 4)]:
            f.result()
        _pools[kind] = pool
        atexit.register(pool.shutdown, wait=True, cancel_futures=True)
    return pool


def _round_trip(get: Callable[[], Callable[[], object]], n: int) -> list[int]:
    call = get()
    out: list[int] = []
    for _ in range(n):
        t0 = perf_counter_ns()
        call()
        out.append(perf_counter_ns() - t0)
    return out


def _submit_result(kind: str) -> Callable[[], object]:
    pool = _pool(kind)
    return lambda: pool.submit(trivial).result()


def _map(kind: str, n: int) -> int:
    pool = _pool(kind)
    t0 = perf_counter_ns()
    for _ in range(n):
        for _ in pool.map(small, range(1000)):
            pass
    return perf_counter_ns() - t0


def _cancel_running(n: int) -> list[int]:
    pool = _pool("threado")
    out: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        address = os.path.join(tmp, "s")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
        listener.listen(8)
        try:
            for _ in range(n):
                f = pool.submit(blocked, address)
                conn, _ = listener.accept()
                conn.recv(1)  # it runs, blocked in threado.sleep
                t0 = perf_counter_ns()
                f.cancel()
                threado.wait([f])
                out.append(perf_counter_ns() - t0)
                conn.close()
        finally:
            listener.close()
    return out


# -- Dask and Ray (full mode, when installed) ---------------------------------------------


def _dask_client() -> Any:
    client = _pools.get("dask")
    if client is None:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        atexit.register(cluster.close)
        atexit.register(client.close)
        _pools["dask"] = client
    return client


def _dask_plain() -> Callable[[], object]:
    client = _dask_client()
    return lambda: client.submit(trivial, pure=False).result()


def _dask_threado() -> Callable[[], object]:
    import threado.dask

    ex = _pools.get("dask-threado")
    if ex is None:
        ex = _pools["dask-threado"] = threado.dask.Executor(_dask_client())
    return lambda: ex.submit(trivial).result()


def _ray_init() -> Any:
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        atexit.register(ray.shutdown)
    return ray


def _ray_plain() -> Callable[[], object]:
    ray = _ray_init()
    remote = _pools.get("ray-plain")
    if remote is None:  # made once: each new remote function is exported on its first call
        remote = _pools["ray-plain"] = ray.remote(trivial)
    return lambda: ray.get(remote.remote())


def _ray_threado() -> Callable[[], object]:
    import threado.ray

    _ray_init()
    ex = _pools.get("ray-threado")
    if ex is None:
        ex = _pools["ray-threado"] = threado.ray.Executor()
    return lambda: ex.submit(trivial).result()


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


CASES: list[Case] = [
    LatencyCase(
        "process pool: submit(f).result() round trip",
        partial(_round_trip, partial(_submit_result, "stdlib")),
        partial(_round_trip, partial(_submit_result, "threado")),
        1.2,
        samples=500,
        max_repeats=5,
    ),
    TimeCase(
        "process pool: map() of 1000 small jobs, per job",
        partial(_map, "map-stdlib"),
        partial(_map, "map-threado"),
        1 / 0.9,
        batch=1000,
        max_repeats=5,
    ),
    LatencyCase(
        "process pool: cancel of a running job until done (stdlib column: its round trip)",
        partial(_round_trip, partial(_submit_result, "stdlib")),
        _cancel_running,
        None,
        samples=100,
        max_repeats=3,
    ),
]
#: The engines' rows: (module that must be installed, name, plain side, threado side).
_ENGINES = [
    (
        "distributed",
        "dask: threado.dask.Executor round trip vs client.submit().result()",
        _dask_plain,
        _dask_threado,
    ),
    (
        "ray",
        "ray: threado.ray.Executor round trip vs ray.get(f.remote())",
        _ray_plain,
        _ray_threado,
    ),
]
CASES += [
    LatencyCase(
        name,
        partial(_round_trip, plain),
        partial(_round_trip, ours),
        1.2,
        samples=100,
        max_repeats=3,
        full_only=True,
    )
    for module, name, plain, ours in _ENGINES
    if _installed(module)
]
