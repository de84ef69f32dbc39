"""The command line: the parser and dispatch (``parser``), one module per command (``run``
for run and compare, ``ab``, ``gate``, ``report``, ``profile``, ``cluster``, ``info`` for
list, env and calibrate) and the terminal output they share (``console``).

The top layer: it may import anything below; nothing imports it.
"""

from perfkit.cli.parser import main

__all__ = ["main"]
