"""Spark: a standalone cluster of separate JVMs (``cluster``), sessions with safe defaults
(``session``), which cluster a run uses (``target``, ``for_run``) and per-call job metrics
and the executor watch (``jobs``)."""
