"""`python -m chalicelib.cli` runs the `plimsoll` command line."""

import sys

from chalicelib.cli import main

sys.exit(main())
