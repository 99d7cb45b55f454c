"""``python -m threado``: run a program with threado (see ``threado._runner``)."""

from threado._runner import _program_frames, main

if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:
        # The program's traceback shows the program, not the runner.
        exc.__traceback__ = _program_frames(exc.__traceback__)
        raise
