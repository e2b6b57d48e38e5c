"""What may be searched: typed, validated parameters with conditions, and their translations.

Example:
    >>> import numpy as np
    >>> from sweepforge.spaces import Space
    >>> space = Space.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    ...                          "depth": {"type": "int", "low": 1, "high": 3}})
    >>> sorted(space.sample(np.random.default_rng(0)))
    ['depth', 'lr']
"""

from ._params import Categorical, Condition, Float, Int, Param, SpaceError
from ._space import Space

__all__ = ["Categorical", "Condition", "Float", "Int", "Param", "Space", "SpaceError"]
