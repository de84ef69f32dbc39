"""Profiles of the very cases perfkit measures: the profiling run and its worker (which
verifies through the engine's own step), profile records, stacks, differential profiles and
the tables they print. The profilers live in :mod:`perfkit.profiling.profilers`, one module
each, behind one ``Profiler`` protocol.

It imports ``engine`` and every layer below it; ``report`` draws its pages.
"""
