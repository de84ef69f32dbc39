"""The run record and what reads and writes it: ``RunRecord`` with its schema versions and
migrations (``run_record``), typed loading from JSON (``typed``), atomic writes
(``atomic``), how a record's figures read (``format``) and importers of pytest-benchmark and
asv results (``importers``).

It imports ``model`` and ``machine.environment`` only.
"""
