"""One module per workload, holding its spec and all of its ports; ``_``-modules hold what
several workloads share (the classic-ML declarations, the GPU kernel ports, training).

It imports ``backends`` (for their device helpers) and every layer below, never the engine.
"""
