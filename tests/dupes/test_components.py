"""Connected components of the duplicate pairs: the same partition as SciPy's csgraph on random
and worst-case graphs, labelled by each component's smallest node, and no SciPy import."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from imgval.dupes.components import components


def scipy_labels(first, second, count):
    graph = coo_matrix((np.ones(len(first), np.int8), (first, second)), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def smallest_member_labels(labels):
    """Each node's label replaced by the smallest node sharing it: comparable across labellings."""
    labels = np.asarray(labels)
    smallest = {}
    for node, label in enumerate(labels):
        smallest.setdefault(label, node)
    return np.array([smallest[label] for label in labels])


@pytest.mark.parametrize("count, edges", [(1, 0), (10, 0), (10, 4), (500, 300), (500, 2000), (20000, 15000)])
def test_random_graphs_give_scipys_components(count, edges):
    rng = np.random.default_rng(count + edges)
    for _ in range(3):
        first, second = rng.integers(0, count, edges), rng.integers(0, count, edges)
        found = components(first, second, count)
        assert (found == smallest_member_labels(scipy_labels(first, second, count))).all()


def shapes(count, rng):
    order = rng.permutation(count)
    yield "a path visited in random order", order[:-1], order[1:]
    yield "a path from the largest node down", np.arange(count - 1, 0, -1), np.arange(count - 2, -1, -1)
    yield "a star around the largest node", np.full(count - 1, count - 1), np.arange(count - 1)
    pairs = np.arange(0, count - 1, 2)
    yield "pairs and self-links", np.r_[pairs, np.arange(count)], np.r_[pairs + 1, np.arange(count)]
    high = np.arange(count // 2, count)  # each of the upper half linked to the next lower node
    yield "a comb", np.r_[high, np.arange(count // 2 - 1)], np.r_[high - count // 2, np.arange(1, count // 2)]


@pytest.mark.parametrize("count", [2, 7, 4096])
def test_worst_case_shapes_give_scipys_components(count):
    for name, first, second in shapes(count, np.random.default_rng(count)):
        found = components(first, second, count)
        expected = smallest_member_labels(scipy_labels(first, second, count))
        assert (found == expected).all(), name


def test_no_nodes():
    assert len(components(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)) == 0


def test_grouping_duplicates_does_not_import_scipy():
    """SciPy's import is 0.25-0.4 s of CPU: a scan that finds duplicates must not pay it for them."""
    check = ("import sys, numpy as np\n"
             "from imgval.dupes.index import group_ids\n"
             "ids = group_ids(np.array([0, 1, 3, 2**64 - 1, 2**64 - 2], np.uint64), 2)\n"
             "assert len(set(ids[:3].tolist())) == 1 and ids[3] == ids[4] != ids[0], ids\n"
             "sys.exit('scipy imported' if 'scipy' in sys.modules else 0)")
    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
