"""``python -m perfkit``."""

import sys

from perfkit.cli.parser import main

sys.exit(main())
