"""One module per backend; each registers itself with ``register_backend``."""
