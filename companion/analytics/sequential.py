"""An always-valid sequential test for A/B tests of conversion rates: the mixture SPRT (mSPRT).

Johari, Pekelis, Walsh, "Always Valid Inference: Bringing Sequential Analysis to A/B Testing" (2017;
the test Optimizely's stats engine is built on). For a difference of two rates theta = p_b - p_a,
estimated by d = p̂_b - p̂_a with variance V (pooled under the null), the likelihood ratio of a normal
mixture N(0, tau²) over theta against theta = 0 is

    Lambda_n = sqrt(V / (V + tau²)) * exp(d² tau² / (2 V (V + tau²)))

and the always-valid p-value is p_n = min(1, min over looks k <= n of 1 / Lambda_k). Because Lambda is a
nonnegative martingale under the null (Ville's inequality), P(any p_n <= alpha) <= alpha, however often
and whenever one looks, and one may stop at any look. The guarantee is exact for normal data of known
variance and holds asymptotically here (normal approximation of the rates, variance estimated):
:data:`MIN_PER_ARM` listeners per arm before any look is counted keeps the approximation honest, and
the A/A simulation in tests/analytics/test_sequential.py checks the false positive rate.

With more than two variations each is compared with the first (the control) at alpha / (k - 1)
(Bonferroni), so the family-wise false positive rate stays at most alpha.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

#: no look counts before every arm has this many exposed listeners.
MIN_PER_ARM = 100
#: the mixture's standard deviation: the size of difference (in rate) the test is most sensitive to.
DEFAULT_TAU = 0.08


def log_lambda(successes_a, n_a, successes_b, n_b, tau: float = DEFAULT_TAU):
    """log Lambda of the mSPRT at each look (numpy arrays, or numbers); 0 where there is no evidence yet
    (an arm under MIN_PER_ARM, or a pooled rate of 0 or 1)."""
    sa_, na = np.asarray(successes_a, float), np.asarray(n_a, float)
    sb_, nb = np.asarray(successes_b, float), np.asarray(n_b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = sa_ / na, sb_ / nb
        pooled = (sa_ + sb_) / (na + nb)
        var = pooled * (1 - pooled) * (1 / na + 1 / nb)
        t2 = tau * tau
        out = 0.5 * np.log(var / (var + t2)) + (pb - pa) ** 2 * t2 / (2 * var * (var + t2))
    ok = (na >= MIN_PER_ARM) & (nb >= MIN_PER_ARM) & (var > 0)
    return np.where(ok, out, 0.0)


def always_valid_p(successes_a, n_a, successes_b, n_b, tau: float = DEFAULT_TAU):
    """The always-valid p-value after each look (running minimum of 1 / Lambda, capped at 1), along the
    last axis: looks in order."""
    ll = log_lambda(successes_a, n_a, successes_b, n_b, tau)
    p = np.minimum(1.0, np.exp(-np.asarray(ll)))
    return np.minimum.accumulate(p, axis=-1) if p.ndim else p


@dataclasses.dataclass
class Arm:
    key: str
    exposed: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.exposed if self.exposed else 0.0


@dataclasses.dataclass
class Comparison:
    key: str               # the variation compared with the control
    difference: float      # its rate minus the control's
    p_value: float         # always valid (running minimum over the looks so far)
    significant: bool      # p_value <= the per-comparison alpha

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def compare(arms: list[Arm], alpha: float, previous_p: dict[str, float] | None = None,
            tau: float = DEFAULT_TAU) -> list[Comparison]:
    """Each arm after the first against the first, at alpha / (k - 1). ``previous_p`` carries each
    comparison's p-value from earlier looks (the running minimum)."""
    control, per = arms[0], alpha / max(1, len(arms) - 1)
    out = []
    for arm in arms[1:]:
        p = float(always_valid_p(control.converted, control.exposed, arm.converted, arm.exposed, tau))
        if previous_p and arm.key in previous_p:
            p = min(p, float(previous_p[arm.key]))
        out.append(Comparison(arm.key, arm.rate - control.rate, p, p <= per))
    return out


def decide(arms: list[Arm], comparisons: list[Comparison], max_exposures: int) -> tuple[str | None, str | None]:
    """The stop rule: (reason, winner) once the test may stop, (None, None) while it runs on.

    - a variation is significantly better than the control: stop; the winner is the best of those;
    - every variation is significantly worse than the control: stop; the control wins;
    - the exposures reach ``max_exposures`` first: stop with no winner (no difference was shown)."""
    better = [c for c in comparisons if c.significant and c.difference > 0]
    if better:
        best = max(better, key=lambda c: c.difference)
        return "significant", best.key
    if comparisons and all(c.significant and c.difference < 0 for c in comparisons):
        return "significant", arms[0].key
    if sum(a.exposed for a in arms) >= max_exposures:
        return "max_exposures", None
    return None, None


def simulate_false_positive_rate(runs: int, alpha: float, rate: float = 0.3, max_per_arm: int = 5000,
                                 look_every: int = 50, tau: float = DEFAULT_TAU, seed: int = 1) -> float:
    """A/A tests: ``runs`` tests of two arms with the same ``rate``, looked at every ``look_every``
    listeners per arm up to ``max_per_arm``; the fraction that ever declared a difference."""
    rng = np.random.default_rng(seed)
    looks = max_per_arm // look_every
    ns = np.arange(1, looks + 1) * look_every
    hits = 0
    for start in range(0, runs, 250):  # in chunks: runs x looks arrays
        m = min(250, runs - start)
        a = np.cumsum(rng.binomial(look_every, rate, size=(m, looks)), axis=1)
        b = np.cumsum(rng.binomial(look_every, rate, size=(m, looks)), axis=1)
        p = always_valid_p(a, ns, b, ns, tau)
        hits += int(np.sum(p[:, -1] <= alpha))
    return hits / runs


def simulate_power(runs: int, alpha: float, rate_a: float, rate_b: float, max_per_arm: int = 5000,
                   look_every: int = 50, tau: float = DEFAULT_TAU, seed: int = 2) -> dict:
    """A/B tests with a real difference: the fraction that found it (B better), the fraction that claimed
    the wrong direction, and the median listeners per arm at the stop."""
    rng = np.random.default_rng(seed)
    looks = max_per_arm // look_every
    ns = np.arange(1, looks + 1) * look_every
    a = np.cumsum(rng.binomial(look_every, rate_a, size=(runs, looks)), axis=1)
    b = np.cumsum(rng.binomial(look_every, rate_b, size=(runs, looks)), axis=1)
    p = always_valid_p(a, ns, b, ns, tau)
    stopped = p <= alpha
    first = np.where(stopped.any(axis=1), stopped.argmax(axis=1), -1)
    found = first >= 0
    idx = np.where(found, first, looks - 1)
    direction = (b[np.arange(runs), idx] - a[np.arange(runs), idx]) > 0
    return {"power": float(np.mean(found & direction)), "wrong_direction": float(np.mean(found & ~direction)),
            "median_per_arm_at_stop": float(np.median(ns[idx[found]])) if found.any() else math.inf}
