"""``python -m tokenmath``: the command line (see :mod:`tokenmath.cli`)."""

from __future__ import annotations

import sys

from tokenmath.cli import main

sys.exit(main())
