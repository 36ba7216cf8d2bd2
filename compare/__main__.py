"""`python -m compare`: the same command as `streambench compare`."""

from __future__ import annotations

import sys

from streambench.cli import main

sys.exit(main(["compare", *sys.argv[1:]]))
