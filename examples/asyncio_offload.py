"""An asyncio service that offloads blocking calls, under ``asyncio.timeout``.

``await threado.to_thread(func, ...)`` is ``asyncio.to_thread`` whose thread
is cancelled with the task: when the ``asyncio.timeout`` around it expires,
the blocking call in the thread raises ``ThreadCancelled``, its ``finally``
runs (the connection goes back to the pool), and only then does the task
see its ``TimeoutError``. With ``asyncio.to_thread`` the request would time
out but its thread would go on holding the connection for a minute. The
event loop is never blocked meanwhile: the heartbeat keeps beating.

Run it with ``python examples/asyncio_offload.py``.
"""

import asyncio

import threado

released: list[str] = []


def query(name: str, seconds: float) -> str:
    """A blocking database call (a cancellable wait stands in for it)."""
    try:
        threado.sleep(seconds)
        return f"rows for {name}"
    finally:
        released.append(name)  # the connection goes back to the pool


async def handle(name: str, seconds: float) -> str:
    try:
        async with asyncio.timeout(0.2):
            return await threado.to_thread(query, name, seconds)
    except TimeoutError:
        return f"{name}: timed out, connection released: {name in released}"


async def main() -> None:
    beats = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal beats
        while not stop.is_set():
            beats += 1
            await asyncio.sleep(0.01)

    hb = asyncio.create_task(heartbeat())
    answers = await asyncio.gather(handle("fast", 0.01), handle("slow", 60.0))
    stop.set()
    await hb
    for answer in answers:
        print(f"service: {answer}")
    print(f"service: connections released: {sorted(released)}")
    print(f"service: the loop kept beating meanwhile: {beats >= 5}")
    print("asyncio_offload finished")


if __name__ == "__main__":
    asyncio.run(main())
