"""Pipelines: stages joined by bounded queues, shut down from either end.

Each stage is a thread that iterates over its input queue (``for item in q``
ends once the queue is shut down and empty) and shuts its output queue down
when it leaves, so the end of the input flows down the pipeline and every
item is delivered.

A stage that stops early shuts its *input* down with ``immediate=True``; the
stage feeding it then gets ``ShutDown`` from ``put`` and stops as well, so the
stop flows up the pipeline, even to a producer that would never end by
itself.

Run it with ``python examples/pipeline.py``.
"""

import itertools
from collections.abc import Iterable

import threado


def produce(source: Iterable[int], out: threado.Queue[int]) -> bool:
    """Stage 1: put every item of ``source``, then shut ``out`` down.

    Returns whether a later stage stopped it early.
    """
    try:
        for item in source:
            out.put(item)  # waits while the bounded queue is full
    except threado.ShutDown:
        return True  # a later stage stopped early: stop producing
    finally:
        out.shutdown()  # the next stage takes what is left, then its loop ends
    return False


def square(inp: threado.Queue[int], out: threado.Queue[int]) -> None:
    """Stage 2: square every item until ``inp`` is shut down and empty."""
    try:
        for item in inp:
            out.put(item * item)
    except threado.ShutDown:
        inp.shutdown(immediate=True)  # ``out`` was shut down: pass the stop up
    finally:
        out.shutdown()


def collect(inp: threado.Queue[int], limit: int | None = None) -> list[int]:
    """Stage 3: collect the items, until ``inp`` ends or ``limit`` items came."""
    results: list[int] = []
    for item in inp:
        results.append(item)
        if len(results) == limit:
            inp.shutdown(immediate=True)  # tell the stages before us to stop
            break
    return results


def run_pipeline() -> None:
    print("== a three-stage pipeline, shut down by its producer")
    numbers: threado.Queue[int] = threado.Queue(maxsize=4)
    squares: threado.Queue[int] = threado.Queue(maxsize=4)
    producer = threado.spawn(produce, range(10), numbers, name="produce")
    middle = threado.spawn(square, numbers, squares, name="square")
    sink = threado.spawn(collect, squares, name="collect")
    print(f"collected: {sink.join()}")
    middle.join()
    print(f"the producer was stopped early: {producer.join()}")


def stop_from_the_end() -> None:
    print("== an endless producer, stopped by the last stage")
    numbers: threado.Queue[int] = threado.Queue(maxsize=4)
    squares: threado.Queue[int] = threado.Queue(maxsize=4)
    producer = threado.spawn(produce, itertools.count(), numbers, name="produce")
    middle = threado.spawn(square, numbers, squares, name="square")
    sink = threado.spawn(collect, squares, 5, name="collect")
    print(f"collected: {sink.join()}")
    middle.join()
    print(f"the endless producer was stopped early: {producer.join()}")


def main() -> None:
    run_pipeline()
    stop_from_the_end()
    print("pipeline finished")


if __name__ == "__main__":
    main()
