"""`python -m netbuilder.cli ...`: the same as the `netbuilder` command (torchrun starts its workers so)."""
import sys

from .main import main

sys.exit(main())
