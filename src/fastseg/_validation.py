"""Input and parameter checks with errors that name the problem and the fix."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a value outside what it accepts.

    Inherits from both ValueError and TypeError, as scikit-learn's does, so code
    catching either keeps working.
    """


def _is_int(v):
    return isinstance(v, Integral) and not isinstance(v, bool)


def check_int(owner, name, value, low, high=None):
    """Raise unless ``value`` is an int in ``[low, high]``."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        hi = "inf)" if high is None else f"{high}]"
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be an int in the range [{low}, {hi}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_real(owner, name, value, low):
    """Raise unless ``value`` is a real number ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= low:
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be a float in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return float(value)


def check_options(owner, name, value, options):
    """Raise unless ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(o) for o in options)
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be one of {allowed}. Got {value!r} instead."
        )
    return value


def reject_non_numeric_columns(X):
    """Name the offending columns of a DataFrame before NumPy fails on them."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    from ._amounts import holds_numbers

    # an object column of numbers (decimal.Decimal from a database) is numbers, as scikit-learn takes it
    bad = [str(col) for j, (col, dt) in enumerate(dtypes.items())
           if not (is_numeric_dtype(dt) or is_bool_dtype(dt) or (dt == object and holds_numbers(X.iloc[:, j])))]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise ValueError(
            f"X has {len(bad)} non-numeric column(s): {shown}. k-means needs numbers: "
            "drop these columns or encode them (e.g. one-hot) before fitting."
        )


def check_finite_rows(X):
    """Raise if any row of X holds NaN or infinity, saying how many rows do.

    X is a NumPy array or a CSR matrix (whose stored values are checked).
    """
    if hasattr(X, "indptr"):
        bad_vals = ~np.isfinite(X.data)
        bad = np.unique(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[bad_vals]) if bad_vals.any() else []
    else:
        # Fast path: one pairwise sum in X's dtype. A huge but finite X may overflow it,
        # which only costs the exact row check below.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(X)):
                return
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if len(bad):
        raise ValueError(
            f"Input X contains NaN or infinity in {len(bad)} of {X.shape[0]} rows "
            f"(first at row {bad[0]}). Drop or impute those rows before fitting."
        )


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validated weights: None → ones; a scalar → constant; else a 1-D array.

    Raises
    ------
    ValueError
        On a wrong shape, NaN/inf, negative values or an all-zero vector.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, (Real, np.number)):
        w = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must be numeric; got dtype {w.dtype}.")
        if w.ndim != 1 or w.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight.shape == {w.shape}, expected ({n_samples},): one weight per row of X."
            )
        w = np.array(w, dtype=dtype)  # a copy: the caller's array is never touched
    if not np.isfinite(w).all():
        raise ValueError(
            f"sample_weight contains NaN or infinity in {np.count_nonzero(~np.isfinite(w))} "
            "entries; every weight must be a finite number >= 0."
        )
    neg = np.count_nonzero(w < 0)
    if neg:
        raise ValueError(
            f"sample_weight contains {neg} negative value(s) (smallest {w.min():g}); "
            "weights must be >= 0."
        )
    if not w.any():
        raise ValueError("sample_weight is zero everywhere; at least one row needs a positive weight.")
    return w


def check_dask_only_init(name, init, on_dask):
    """``init="k-means||"`` seeds Dask input only: say so, and what to use in memory."""
    if init == "k-means||" and not on_dask:
        raise InvalidParameterError(
            f"The 'init' parameter of {name} is 'k-means||', which seeds Dask input only (X here is in memory); "
            "use 'k-means++'."
        )


def require_frame(obj, what):
    """Raise unless ``obj`` is a pandas DataFrame with a name per column, saying how to
    get one from what came.

    ``what`` names the argument in the message ("Segmenter.fit's table").
    """
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        if obj.columns.has_duplicates:  # df[name] would be a table, not a column
            repeated = list(dict.fromkeys(obj.columns[obj.columns.duplicated()]))
            raise ValueError(f"{what} has repeated column names ({', '.join(repr(str(c)) for c in repeated)}); "
                             "every column is read by its name: rename or drop the repeats first.")
        return
    kind = type(obj).__name__
    if type(obj).__module__.split(".")[0] in ("dask", "dask_expr"):
        raise TypeError(
            f"{what} must be a pandas DataFrame; got a dask {kind}. Segments are profiled in memory: pass "
            "df.compute() (or a sample of it); on a table beyond one machine, fastseg.sweep and fastseg.KMeans "
            "take the dask collection of features directly."
        )
    if isinstance(obj, pd.Series):
        raise TypeError(f"{what} must be a pandas DataFrame; got a Series: pass series.to_frame().")
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        raise TypeError(f"{what} must be a pandas DataFrame; got {kind}: wrap it as "
                        "pd.DataFrame(X, columns=[...names...]) so the segments can be described by column.")
    raise TypeError(f"{what} must be a pandas DataFrame; got {kind}.")


def listed_columns(columns, most=30):
    """``'a', 'b', ...``: the first ``most`` column names, for an error that lists what a table has."""
    shown = ", ".join(repr(str(c)) for c in columns[:most])
    return shown + (" ..." if len(columns) > most else "")


def _normalised(name):
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def did_you_mean(missing, columns):
    """``"; did you mean 'Age' for 'age '?"`` for the missing column names that nearly match
    one the table has (the same letters and digits whatever the case, spaces and
    punctuation, or a close spelling); "" when none does."""
    import difflib

    columns = [str(c) for c in columns]
    by_norm = {}
    for c in columns:
        by_norm.setdefault(_normalised(c), c)
    pairs = []
    for m in missing:
        near = by_norm.get(_normalised(m))
        if near is None:  # a close spelling, whatever the case
            lower = {c.lower(): c for c in reversed(columns)}
            close = difflib.get_close_matches(str(m).lower(), list(lower), n=1, cutoff=0.75)
            near = lower[close[0]] if close else None
        if near is not None and near != str(m):
            pairs.append(f"{near!r} for {str(m)!r}")
    return f"; did you mean {', '.join(pairs)}?" if pairs else ""
