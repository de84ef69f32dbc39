"""The C code and CUDA kernels shipped as package data: finding them (``shipped``) and
building the allocator and its drivers on first use (``build``).

It imports ``model`` and ``machine`` only.
"""
