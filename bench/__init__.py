"""Benchmarks: ``make bench`` (``python -m bench.run``). See README "Benchmarks"."""
