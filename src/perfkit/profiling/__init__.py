"""Profiles of the very cases perfkit measures: the run, its record, its page, its diffs.

The profilers themselves live in :mod:`perfkit.profilers`, one module each.
"""
