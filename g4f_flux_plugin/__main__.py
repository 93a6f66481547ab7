"""``python -m g4f_flux_plugin``: the ``g4f-flux`` command (see :mod:`.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
