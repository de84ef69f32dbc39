"""The frameworks perfkit drives, apart from the backends that time them: Spark's standalone
cluster, sessions, targets and job metrics (``spark``) and a run's PyTorch set-up
(``torch_run``).

It imports ``model``, ``records`` and ``machine`` only, never a backend.
"""
