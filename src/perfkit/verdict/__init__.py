"""Deciding whether a candidate is slower than its base: statistics (``stats``, scipy
underneath), pairing repetitions into a ``Comparison`` with a verdict (``comparison``) and
the pull-request gate's policy and report (``gate``).

It imports ``model``, ``records`` and ``machine`` only.
"""
