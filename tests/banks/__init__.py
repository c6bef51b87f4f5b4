"""Banks of known-wrong answers, one module per notebook; ``BANKS`` maps assignment -> mutants."""

from . import nb01

BANKS = {nb01.ASSIGNMENT: nb01.MUTANTS}
