"""``python -m chromtransfer_lib.cli``: the same as the ``chromtransfer`` command."""

import sys

from chromtransfer_lib.cli.main import main

if __name__ == "__main__":  # a spawned worker (TF-MoDISco's) imports this module again
    sys.exit(main())
