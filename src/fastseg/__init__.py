"""fastseg: GPU-accelerated k-means for customer segmentation.

Importing fastseg never imports CuPy or touches a GPU; the backend is chosen when
an estimator is fitted (``device="auto" | "cpu" | "gpu"``). The public names load on
first use (PEP 562), so ``import fastseg`` and ``fastseg --help`` do not wait on
scikit-learn, pandas and SciPy (about two seconds) until something needs them.
"""

import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "Baskets": ".baskets",
    "KMeans": ".kmeans",
    "kmeans_plusplus": ".kmeans",
    "SweepResult": ".sweep",
    "sweep": ".sweep",
    "baskets": ".baskets",
    "join_customers": ".customer_join",
    "join_log": ".log_join",
    "recommend_items": ".baskets",
    "rfm": ".features",
    "segment_items": ".baskets",
    "Segmentation": ".segmentation",
    "Segmenter": ".segment",
    "report": ".report",
    "datasets": ".datasets",
    "features": ".features",
    "plots": ".plots",
    "rules": ".rules",
    "stability": ".stability",
}
_MODULES = {"datasets", "features", "plots", "rules", "stability"}  # exported as modules, not as a name inside one

__all__ = [
    "Baskets",
    "KMeans",
    "Segmentation",
    "Segmenter",
    "SweepResult",
    "baskets",
    "datasets",
    "features",
    "join_customers",
    "join_log",
    "kmeans_plusplus",
    "plots",
    "recommend_items",
    "report",
    "rfm",
    "rules",
    "segment_items",
    "stability",
    "sweep",
    "__version__",
]

if _TYPE_CHECKING:  # what type checkers and IDEs see
    from . import datasets, features, plots, rules, stability
    from .baskets import Baskets, baskets, recommend_items, segment_items
    from .customer_join import join_customers
    from .features import rfm
    from .log_join import join_log
    from .kmeans import KMeans, kmeans_plusplus
    from .report import report
    from .segment import Segmenter
    from .segmentation import Segmentation
    from .sweep import SweepResult, sweep


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastseg' has no attribute {name!r}")
    mod = _importlib.import_module(module, __name__)
    value = mod if name in _MODULES else getattr(mod, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(__all__) | {n for n in globals() if not n.startswith("_")})


class _Package(_types.ModuleType):
    """fastseg's module type: ``fastseg.sweep`` and ``fastseg.report`` stay the functions.

    Importing a submodule binds it on its package, and two submodules share their
    name with the function they define; eager imports in ``__init__`` used to rebind
    the functions last. Here the binding is redirected to the function instead."""

    def __setattr__(self, name, value):
        if isinstance(value, _types.ModuleType) and _EXPORTS.get(name) == f".{name}" and name not in _MODULES:
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
