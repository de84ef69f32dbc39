"""What a benchmark is, independent of how it runs: ``Workload``, ``Implementation``, ``Case``
and ``Work`` (``workload``); axes and parameter spaces (``axes``); the ``Backend`` protocol
and its registry (``backend``), the workload registry (``registry``), ``MeasurePolicy``
(``policy``), the timer and case-monitor protocols (``timers``, ``monitor``) and the errors
every layer raises (``errors``).

The bottom layer: it imports nothing else of perfkit.
"""
