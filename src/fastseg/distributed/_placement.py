"""Even rows per worker for the chunks of a persisted dask array.

Every Lloyd iteration waits for the worker with the most rows. Dask places chunks where
they were made, which may be one worker for all of them (its root tasks are co-assigned,
and a loader may run where it likes), and then one worker does the whole fit while the
others idle. Before the first pass, chunks beyond a worker's share are copied once to
the workers short of rows; every pass then runs where its chunk is. Dask's memory
manager drops the replicas left behind.
"""

from __future__ import annotations

import numpy as np


def spread_plan(rows, holders, threads):
    """Which worker each chunk should live on: rows in proportion to threads, few moved.

    Parameters
    ----------
    rows : sequence of int
        Rows of each chunk.
    holders : sequence of collections of str
        The workers holding each chunk now (any of them will do).
    threads : dict of str to int
        The workers to spread over and the threads each runs tasks on.

    Returns
    -------
    list of str
        A worker per chunk: one of its holders where that keeps the holder within half a
        chunk of its share of the rows (or it is the holder's first), else the worker with
        the fewest rows per thread.
    """
    workers = list(threads)
    if not workers or not len(rows):
        return []
    load = dict.fromkeys(workers, 0)
    slots = {w: max(int(threads[w]), 1) for w in workers}
    cap = {w: sum(rows) * slots[w] / sum(slots.values()) + max(rows) / 2 for w in workers}
    least = lambda ws: min(ws, key=lambda w: (load[w] / slots[w], workers.index(w)))  # noqa: E731
    target = [None] * len(rows)
    for i, (r, have) in enumerate(zip(rows, holders)):  # chunks stay where there is room
        here = [w for w in workers if w in have]
        if here:
            w = least(here)
            if load[w] == 0 or load[w] + r <= cap[w]:  # a worker's first chunk always stays
                target[i] = w
                load[w] += r
    for i in np.argsort(-np.asarray(rows), kind="stable"):  # the rest, largest first
        if target[i] is None:
            w = least(workers)
            target[i] = w
            load[w] += rows[i]
    return target


def distributed_client(collection):
    """The ``distributed.Client`` that computing ``collection`` would use, or None (a local
    scheduler, or distributed not installed)."""
    import dask.base

    try:
        from distributed import Client
    except ImportError:
        return None
    get = dask.base.get_scheduler(collections=[collection])
    client = getattr(get, "__self__", None)
    return client if isinstance(client, Client) else None


def _same(x):
    return x


def spread_blocks(client, X, w):
    """Per-chunk handles of X and w (persisted, row-chunked alike), the chunks of a worker
    with more than its share of rows copied to the workers with fewer, a chunk's weights
    beside its rows.

    Returns
    -------
    (list, list) or None
        Futures of the rows and the weights of each chunk, in chunk order; None when the
        chunks are spread well already (or there is one worker), so the collections'
        own blocks serve.
    """
    from dask.core import flatten
    from distributed import futures_of, wait

    threads = dict(sorted(client.nthreads().items()))
    if len(threads) < 2 or X.numblocks[0] < 2:
        return None
    (xf, xk), (wf, wk) = (({f.key: f for f in futures_of(a)}, list(flatten(a.__dask_keys__()))) for a in (X, w))
    if not all(k in xf for k in xk) or not all(k in wf for k in wk):
        return None  # not a collection of futures (not persisted on this client): leave it be
    xf, wf = [xf[k] for k in xk], [wf[k] for k in wk]
    wait(xf + wf)
    who = client.who_has(xf + wf)
    target = spread_plan(X.chunks[0], [who.get(f.key, ()) for f in xf], threads)

    def at(f, worker):  # loosely pinned: if that worker dies, the copy is remade elsewhere
        if worker in who.get(f.key, ()):
            return f
        return client.submit(_same, f, workers=[worker], allow_other_workers=True, pure=False)

    moved = [(at(x, t), at(v, t)) for x, v, t in zip(xf, wf, target)]
    if all(a is x and b is v for (a, b), x, v in zip(moved, xf, wf)):
        return None
    wait([f for pair in moved for f in pair])
    return [a for a, _ in moved], [b for _, b in moved]
