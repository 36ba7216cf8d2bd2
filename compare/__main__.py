"""`python -m compare`: the same command as `streambench compare`."""

from __future__ import annotations

import sys

from .command import main

sys.exit(main(sys.argv[1:]))
