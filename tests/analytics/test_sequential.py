"""The sequential test (mSPRT, always-valid p-values): A/A tests looked at again and again keep their false
positive rate within alpha; A/B tests with a real difference find it, in the right direction."""
from __future__ import annotations

import numpy as np

from companion.analytics import sequential as seq

ALPHA = 0.05


def test_aa_tests_looked_at_every_50_listeners_keep_the_false_positive_rate_within_alpha():
    # 2,000 A/A tests, each looked at 100 times (every 50 listeners per arm, up to 5,000): a fixed-horizon
    # test looked at this often would declare a difference in a large share of them.
    for rate in (0.05, 0.3, 0.7):
        fpr = seq.simulate_false_positive_rate(2000, ALPHA, rate=rate, max_per_arm=5000, look_every=50, seed=11)
        assert fpr <= ALPHA, (rate, fpr)


def test_a_naive_test_looked_at_as_often_does_not_keep_alpha():
    """The precondition of the test above: peeking with a fixed-horizon z-test inflates the error, so the
    A/A test above can tell a valid test from an invalid one."""
    from scipy import stats

    rng = np.random.default_rng(5)
    runs, looks, every = 1000, 100, 50
    a = np.cumsum(rng.binomial(every, 0.3, size=(runs, looks)), axis=1)
    b = np.cumsum(rng.binomial(every, 0.3, size=(runs, looks)), axis=1)
    n = np.arange(1, looks + 1) * every
    pooled = (a + b) / (2 * n)
    z = (b / n - a / n) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    naive = np.mean((2 * stats.norm.sf(np.abs(z)) <= ALPHA).any(axis=1))
    assert naive > 2 * ALPHA, naive


def test_the_p_value_never_rises_and_is_one_before_the_minimum_sample():
    rng = np.random.default_rng(3)
    a = np.cumsum(rng.binomial(10, 0.3, size=200))
    b = np.cumsum(rng.binomial(10, 0.32, size=200))
    n = np.arange(1, 201) * 10
    p = seq.always_valid_p(a, n, b, n)
    assert np.all(np.diff(p) <= 0) and np.all(p[n < seq.MIN_PER_ARM] == 1.0)
    assert 0 < p[-1] <= 1


def test_ab_tests_with_a_real_difference_find_it_in_the_right_direction():
    strong = seq.simulate_power(500, ALPHA, 0.30, 0.36, max_per_arm=5000, seed=7)
    assert strong["power"] >= 0.9 and strong["wrong_direction"] <= ALPHA, strong
    small = seq.simulate_power(500, ALPHA, 0.30, 0.33, max_per_arm=5000, seed=8)
    assert small["power"] >= 0.4 and small["wrong_direction"] <= ALPHA, small
    # a larger effect is found sooner
    assert strong["median_per_arm_at_stop"] < small["median_per_arm_at_stop"]


def test_several_variations_are_each_compared_with_the_control_at_a_bonferroni_share_of_alpha():
    arms = [seq.Arm("a", 400, 120), seq.Arm("b", 400, 124), seq.Arm("c", 400, 200)]
    comps = seq.compare(arms, ALPHA)
    assert [c.key for c in comps] == ["b", "c"]
    assert not comps[0].significant and comps[1].significant and comps[1].difference > 0.19
    assert seq.decide(arms, comps, 100_000) == ("significant", "c")
    # a p-value just under alpha but over alpha / 2 is not significant with two comparisons
    borderline = seq.Comparison("b", 0.02, 0.04, 0.04 <= ALPHA / 2)
    assert not borderline.significant


def test_the_stop_rules():
    worse = [seq.Arm("a", 500, 250), seq.Arm("b", 500, 100)]
    assert seq.decide(worse, seq.compare(worse, ALPHA), 100_000) == ("significant", "a")
    same = [seq.Arm("a", 600, 180), seq.Arm("b", 600, 181)]
    assert seq.decide(same, seq.compare(same, ALPHA), 100_000) == (None, None)
    assert seq.decide(same, seq.compare(same, ALPHA), 1200) == ("max_exposures", None)
    # the running minimum: once significant, a later look with weaker evidence still is
    later = [seq.Arm("a", 700, 300), seq.Arm("b", 700, 310)]
    comps = seq.compare(later, ALPHA, previous_p={"b": 0.001})
    assert comps[0].p_value == 0.001 and comps[0].significant
