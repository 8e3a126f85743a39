"""``python -m autorec``: the same as the ``autorec`` command."""

import sys

from autorec.cli import main

if __name__ == "__main__":
    sys.exit(main())
