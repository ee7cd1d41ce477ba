"""``python -m minifw`` runs the ``minifw`` command."""

import sys

from .cli import main

sys.exit(main())
