"""Banks of known-wrong answers, one module per notebook (and one per added group of exercises);
``BANKS`` maps assignment -> mutants, the banks of one assignment joined."""

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb06_design, nb07

BANKS: dict = {}
for _bank in (nb01, nb02, nb03, nb04, nb05, nb06, nb06_design, nb07):
    BANKS.setdefault(_bank.ASSIGNMENT, []).extend(_bank.MUTANTS)
