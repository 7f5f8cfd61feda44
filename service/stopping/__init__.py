"""Early stopping: policies that decide from a trial's intermediate values whether to stop it.

Pure functions of the curves (no database): the studies layer takes the snapshot and applies
the decision (``service.studies.reports``).
"""

from service.stopping.curves import Curve, Decision, StoppingContext
from service.stopping.decide import decide
from service.stopping.settings import EarlyStoppingSettings

__all__ = ["Curve", "Decision", "EarlyStoppingSettings", "StoppingContext", "decide"]
