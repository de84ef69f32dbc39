"""Facts about the machine a run measures on: the ``Environment`` a record keeps
(``environment``) and how it is captured (``capture``), the CPU (``cpu``), other processes'
load (``load``), NVIDIA devices through NVML (``nvml``), the measured ceilings behind
"% of roof" (``ceilings``) and where perfkit caches what it builds or measures (``cache``).

It imports ``model`` and ``records`` only.
"""
