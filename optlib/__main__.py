"""``python -m optlib``: the command line, :mod:`optlib.cli`."""

import sys

from optlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
