"""facebehavior: holistic facial behaviour analysis (FaceBehaviorNet, Kollias et al.)."""

from facebehavior.labels import AUS, AU_NAMES, EXPRESSIONS, VA_NAMES, TaskSpec

__version__ = "0.1.0"
__all__ = ["AUS", "AU_NAMES", "EXPRESSIONS", "VA_NAMES", "TaskSpec", "__version__"]
