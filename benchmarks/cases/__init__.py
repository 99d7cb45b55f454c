"""The benchmark's cases, one module per family.

Each module exports ``CASES``, the list of its rows in the order printed;
``bench.py`` puts the families together in a fixed order. A module holds the
two sides of each of its rows (a standard-library function and a threado
function of the same shape) and the helpers only its rows use; what several
families share is in :mod:`cases._common`. Adding a row means writing its two
functions and appending a case to its family's ``CASES``: the harness does
not change.
"""
