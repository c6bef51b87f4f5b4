"""Banks of known-wrong answers, one module per notebook; ``BANKS`` maps assignment -> mutants."""

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07

BANKS = {bank.ASSIGNMENT: bank.MUTANTS for bank in (nb01, nb02, nb03, nb04, nb05, nb06, nb07)}
