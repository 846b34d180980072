"""`python -m tuneyard.cli`: what the `tuneyard` command runs."""

from __future__ import annotations

import sys

from tuneyard.cli import main

if __name__ == "__main__":
    sys.exit(main())
