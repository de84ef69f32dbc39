"""Spark, driven for real: a standalone cluster of separate JVM processes started from the
pip-installed pyspark (``cluster``), and the Spark sessions perfkit's backends time
(``session``)."""
