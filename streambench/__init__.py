"""The `streambench` command line: the shell above the data layer (`shared`), the framework ports
and the comparator (`compare`). It parses, dispatches and prints; the work lives in those packages."""

from .cli import build_parser, main

__all__ = ["build_parser", "main"]
