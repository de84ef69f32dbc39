"""How a case is measured: the runner plans repetitions and interleaves cases (``runner``,
``turns``), the supervisor starts and watches worker processes (``supervisor``), each
worker verifies then samples (``worker``, ``sampler``) and reports over a line protocol
(``protocol``) merged into results (``metrics``); CPU affinity and thread settling
(``affinity``, ``settle``), instruction counts (``callgrind``), the run's journal
(``journal``), the harness fingerprint and plugin loading (``harness``) and the
calibration of ceilings (``calibrate``, ``gpu_ceilings``).

It imports every layer below it (``backends``, ``workloads`` and under), never ``cli``,
``report`` or ``profiling``.
"""
