"""Connected components of an edge list, in NumPy.

Duplicate groups are the connected components of the near-duplicate pairs. SciPy's csgraph
finds them as well, but importing it costs 0.25-0.4 s of CPU, paid by every scan that finds a
single duplicate; this is the same answer from a few array passes.
"""
from __future__ import annotations

import numpy as np


def components(first: np.ndarray, second: np.ndarray, count: int) -> np.ndarray:
    """Label of each of `count` nodes linked by the edges first[k]-second[k] (self-links
    allowed): the smallest node of its connected component.

    Every node points at a root; each round hooks each root that has an edge to a smaller root
    under one such root, then follows the pointers until each points at its root again
    (pointer jumping), and drops the edges whose ends now share one. A component's smallest
    node is never hooked, so it is the root left when no edge joins two roots."""
    parent = np.arange(count, dtype=np.int64)
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    while True:
        ends = parent[first], parent[second]
        low, high = np.minimum(*ends), np.maximum(*ends)
        apart = low != high
        if not apart.any():
            return parent
        first, second = first[apart], second[apart]
        parent[high[apart]] = low[apart]  # of a root's several smaller neighbours, any one will do
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
