"""Classic machine learning written from scratch in NumPy: the reference ports of the
classic-ML workloads, plain enough to learn from. Each module states its method; none
calls a learning library. Inputs are float64 arrays, features already standardised;
labels are class indices ``0 .. K-1``.

It imports NumPy only: nothing else of perfkit."""
