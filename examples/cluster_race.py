"""Race the same query on three Dask workers; the first answer cancels the others there.

``ThreadGroup(wait=any)`` runs one ``run_in`` per worker; the first answer
ends the race, and the group cancels the other threads, whose ``run_in``
calls cancel their jobs on the cluster: ``ThreadCancelled`` arrives in the
slow queries, their ``finally`` blocks run on the workers, and the block is
left only then. The cluster is a local one (worker threads, so that it
starts at once); with ``threado[dask]`` not installed, it says so and exits.

Run it with ``python examples/cluster_race.py``.
"""

import importlib.util
from concurrent.futures import Executor

import threado


def query(replica: str, seconds: float) -> str:
    try:
        threado.sleep(seconds)  # stands for a slow query on that replica
        return f"rows from {replica}"
    finally:
        print(f"  {replica}: query cleaned up")


def race(executor: Executor) -> str:
    with threado.ThreadGroup(wait=any) as g:
        for replica, seconds in [("replica-a", 60), ("replica-b", 0.05), ("replica-c", 60)]:
            g.spawn(threado.run_in, executor, query, replica, seconds)
    winner = next(t for t in g.threads if not t.cancelled)
    return str(winner.result)


def main() -> None:
    if importlib.util.find_spec("distributed") is None:
        print("cluster_race: threado[dask] is not installed; skipped")
        print("cluster_race finished")
        return
    import logging
    import warnings

    from distributed import Client, LocalCluster

    import threado.dask

    warnings.simplefilter("ignore")  # the engine's own deprecations are not ours
    # Nor its shutdown chatter: a comm closing under a last batched send is logged
    # ("Batched Comm Closed", with a traceback) at INFO level, at random.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (
        LocalCluster(
            n_workers=3, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"first answer: {race(threado.dask.Executor(client))!r}")
    print("cluster_race finished")


if __name__ == "__main__":
    main()
