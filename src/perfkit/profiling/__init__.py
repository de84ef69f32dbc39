"""Profiles of the very cases perfkit measures: the run, its record, its page, its diffs.

The profilers themselves live in :mod:`perfkit.profiling.profilers`, one module each.
"""
