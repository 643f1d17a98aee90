"""distillab: distill models, detect distillation campaigns, and prove distillation."""

from distillab.errors import BudgetExceeded, ConfigError, DataError, DistillabError, ModelError, TeacherError

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "DataError",
    "DistillabError",
    "ModelError",
    "TeacherError",
    "__version__",
]
