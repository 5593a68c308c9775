"""Few-labels-per-class training sets (transfer learning's learning curves): exact, seeded, nested."""

import numpy as np
import pytest

from cnnkit import data


def _labels(counts):
    return np.repeat(np.arange(len(counts)), counts)[
        np.random.default_rng(0).permutation(sum(counts))
    ]


def test_per_class_indices_draws_exactly_k_of_each_class():
    y = _labels([30, 12, 50, 7])
    idx = data.per_class_indices(y, 5, seed=0)
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(np.bincount(y[idx]), [5, 5, 5, 5])
    np.testing.assert_array_equal(idx, data.per_class_indices(y, 5, seed=0))  # deterministic


def test_per_class_sets_are_nested_in_k_and_differ_between_seeds():
    y = _labels([40, 40, 40])
    small, large = data.per_class_indices(y, 3, seed=7), data.per_class_indices(y, 20, seed=7)
    assert set(small) <= set(large)
    draws = {tuple(data.per_class_indices(y, 3, seed=s)) for s in range(5)}
    assert len(draws) == 5


def test_per_class_indices_names_the_short_class():
    y = _labels([30, 4, 50])
    with pytest.raises(ValueError, match=r"1 class\(es\).*\{1: 4\}.*largest possible here is 4"):
        data.per_class_indices(y, 5, seed=0)
    with pytest.raises(ValueError, match="n_per_class must be >= 1"):
        data.per_class_indices(y, 0, seed=0)


def test_few_labels_of_a_registered_dataset_are_rows_of_its_split():
    pytest.importorskip("sklearn")
    full = data.load("digits", "train")
    few = data.few_labels("digits", 4, seed=3)
    assert few.X.shape == (40, 1, 8, 8) and few.class_names == full.class_names
    np.testing.assert_array_equal(np.bincount(few.y), np.full(10, 4))
    idx = data.per_class_indices(full.y, 4, seed=3)
    np.testing.assert_array_equal(few.X, full.X[idx])
    np.testing.assert_array_equal(few.y, full.y[idx])
    other = data.few_labels("digits", 4, seed=4)
    assert not np.array_equal(few.X, other.X)
    with pytest.raises(ValueError, match="largest possible here is"):
        data.few_labels("digits", 500)


def test_few_labels_of_unlabelled_photos_is_a_clear_error():
    pytest.importorskip("skimage")
    with pytest.raises(ValueError, match="photos has no labels"):
        data.few_labels("photos", 1)
