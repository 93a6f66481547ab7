"""``python -m g4f_flux_plugin.cli``: the ``g4f-flux`` command."""

import sys

from . import main

sys.exit(main())
