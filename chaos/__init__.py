"""The chaos suite: a seeded storm of faults through the whole local pipeline, then a record-by-record
verdict (``make chaos``; a reduced run is part of ``make test``, tests/chaos)."""
