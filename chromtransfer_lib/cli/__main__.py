"""``python -m chromtransfer_lib.cli``: the same as the ``chromtransfer`` command."""

import sys

from chromtransfer_lib.cli.main import main

sys.exit(main())
