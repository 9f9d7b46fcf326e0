"""rlkit: the shared core every agent uses. The spine is drawn in docs/ARCHITECTURE.md."""
from rlkit.evaluation import evaluate

__version__ = "0.1.0"
__all__ = ["evaluate", "__version__"]
