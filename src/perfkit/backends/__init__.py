"""One module per backend; each registers itself with ``register_backend``. A backend is a
runtime adapter (session, device transfers, sync, timer, monitor), never workload code;
``_``-modules hold what a family shares (CUDA, Spark, allocators).

It imports ``model``, ``machine``, ``native`` and ``integrations``, never the engine.
"""
