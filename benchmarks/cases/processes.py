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
  takes seconds to start), the same three rows per engine (one worker
  process, one thread): the round trip through ``threado.dask.Executor``
  against ``client.submit(...).result()``, and through ``threado.ray.Executor``
  against ``ray.get(f.remote())`` (target 1.2x); 500 small jobs submitted one
  by one and then waited for, against the engine's best way to do the same,
  ``client.gather`` of the ``client.submit`` futures and ``ray.get`` of the
  list of refs (time per job, target 1.2x); the cancel of a running job, its
  column the engine's round trip for scale (report).

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


def _cancel_running(get: Callable[[], Any], n: int) -> list[int]:
    """Cancel of a running job until its future is done, on the executor ``get()``."""
    executor = get()
    out: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        address = os.path.join(tmp, "s")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
        listener.listen(8)
        try:
            for _ in range(n):
                f = executor.submit(blocked, address)
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


def _dask_executor() -> Any:
    import threado.dask

    ex = _pools.get("dask-threado")
    if ex is None:
        ex = _pools["dask-threado"] = threado.dask.Executor(_dask_client())
    return ex


def _dask_plain() -> Callable[[], object]:
    client = _dask_client()
    return lambda: client.submit(trivial, pure=False).result()


def _dask_threado() -> Callable[[], object]:
    ex = _dask_executor()
    return lambda: ex.submit(trivial).result()


def _dask_plain_many(n: int) -> int:
    client = _dask_client()
    t0 = perf_counter_ns()
    for _ in range(n):
        client.gather([client.submit(small, i, pure=False) for i in range(_MANY)])
    return perf_counter_ns() - t0


def _ray_init() -> Any:
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        atexit.register(ray.shutdown)
    return ray


def _ray_remote(fn: Callable[..., Any]) -> Any:
    ray = _ray_init()
    key = f"ray-plain-{fn.__name__}"
    remote = _pools.get(key)
    if remote is None:  # made once: each new remote function is exported on its first call
        remote = _pools[key] = ray.remote(fn)
    return remote


def _ray_executor() -> Any:
    import threado.ray

    _ray_init()
    ex = _pools.get("ray-threado")
    if ex is None:
        ex = _pools["ray-threado"] = threado.ray.Executor()
    return ex


def _ray_plain() -> Callable[[], object]:
    ray = _ray_init()
    remote = _ray_remote(trivial)
    return lambda: ray.get(remote.remote())


def _ray_threado() -> Callable[[], object]:
    ex = _ray_executor()
    return lambda: ex.submit(trivial).result()


def _ray_plain_many(n: int) -> int:
    ray = _ray_init()
    remote = _ray_remote(small)
    t0 = perf_counter_ns()
    for _ in range(n):
        ray.get([remote.remote(i) for i in range(_MANY)])
    return perf_counter_ns() - t0


def _submit_many(get: Callable[[], Any], n: int) -> int:
    """``_MANY`` small jobs submitted one by one, then their results, ``n`` times."""
    executor = get()
    t0 = perf_counter_ns()
    for _ in range(n):
        for f in [executor.submit(small, i) for i in range(_MANY)]:
            f.result()
    return perf_counter_ns() - t0


#: Small jobs per repeat of the engines' throughput rows.
_MANY = 500


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
        partial(_cancel_running, partial(_pool, "threado")),
        None,
        samples=100,
        max_repeats=3,
    ),
]
#: The engines' rows, full mode only (a cluster takes seconds to start): (module
#: that must be installed, engine, its executor, its round trip, ours, its submit of many).
_ENGINES = [
    (
        "distributed",
        "dask",
        "client.submit().result()",
        _dask_executor,
        _dask_plain,
        _dask_threado,
        _dask_plain_many,
    ),
    ("ray", "ray", "ray.get(f.remote())", _ray_executor, _ray_plain, _ray_threado, _ray_plain_many),
]
for module, engine, own, executor, plain, ours, plain_many in _ENGINES:
    if not _installed(module):
        continue
    CASES += [
        LatencyCase(
            f"{engine}: threado.{engine}.Executor round trip vs {own}",
            partial(_round_trip, plain),
            partial(_round_trip, ours),
            1.2,
            samples=200,  # an engine's own round trip varies by 2x between runs
            max_repeats=5,
            full_only=True,
        ),
        TimeCase(
            f"{engine}: {_MANY} small jobs submitted then gathered, per job",
            plain_many,
            partial(_submit_many, executor),
            1.2,
            batch=_MANY,
            max_repeats=3,
            full_only=True,
        ),
        LatencyCase(
            f"{engine}: cancel of a running job until done (its column: {own})",
            partial(_round_trip, plain),
            partial(_cancel_running, executor),
            None,
            samples=20,
            max_repeats=3,
            full_only=True,
        ),
    ]
