"""Timeouts: exact attribution in nested blocks, and the call form.

A timeout block reports only its own expiry. When an inner deadline passes,
the inner block raises ``ThreadTimeout`` and the outer block carries on. When
an outer deadline passes while an inner block runs, the inner block lets the
cancellation through untouched and only the outer block raises.

Run it with ``python examples/timeouts.py``.
"""

import threado


def slow(seconds: float) -> str:
    threado.sleep(seconds)
    return f"slept {seconds} s"


def inner_deadline_passes() -> None:
    print("== inner deadline (0.1 s) inside a looser outer one (10 s)")
    with threado.timeout_after(10) as outer:
        try:
            with threado.timeout_after(0.1) as inner:
                slow(60)
        except threado.ThreadTimeout:
            print(f"inner block raised ThreadTimeout: inner.expired={inner.expired}")
        print(f"outer block carries on: outer.expired={outer.expired}")


def outer_deadline_passes() -> None:
    print("== outer deadline (0.1 s) passes inside a looser inner block (10 s)")
    try:
        with threado.timeout_after(0.1) as outer:
            try:
                with threado.timeout_after(10) as inner:
                    try:
                        slow(60)
                    except Exception:
                        print("not printed: the cancellation is not an Exception")
            except threado.ThreadTimeout:
                print("not printed: the inner block never claims the outer's expiry")
    except threado.ThreadTimeout:
        print(
            "outer block raised ThreadTimeout: "
            f"outer.expired={outer.expired}, inner.expired={inner.expired}"
        )


def call_form() -> None:
    print("== call form: timeout_after(seconds, func, *args)")
    print(f"in time: {threado.timeout_after(5, slow, 0.01)!r}")
    print(f"ignore_after, too slow: {threado.ignore_after(0.05, slow, 60)!r}")
    try:
        threado.timeout_after(0.05, slow, 60)
    except threado.ThreadTimeout as exc:
        print(f"timeout_after, too slow: {type(exc).__name__}, a TimeoutError")


def shared_deadline() -> None:
    print("== one absolute deadline shared by several steps: timeout_at/ignore_at")
    deadline = threado.clock() + 0.25
    steps = 0
    with threado.ignore_at(deadline) as scope:
        for _ in range(10):  # ten steps of 0.1 s: more than the 0.25 s allowed
            slow(0.1)
            steps += 1
    print(f"the deadline stopped the steps early: {steps < 10}, expired={scope.expired}")


def main() -> None:
    inner_deadline_passes()
    outer_deadline_passes()
    call_form()
    shared_deadline()
    print("timeouts finished")


if __name__ == "__main__":
    main()
