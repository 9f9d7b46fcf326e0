"""rlkit: the shared core every agent uses (see ARCHITECTURE in the README)."""
from rlkit.evaluation import evaluate

__version__ = "0.1.0"
__all__ = ["evaluate", "__version__"]
