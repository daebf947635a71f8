"""Is a given cascade run below the minimum extractant flow of its own split?

A cascade file sets S and W, not a target purity, so the check uses the split the flows imply:
the most extractable components whose feed adds up closest to the organic product flow form
group A, the rest group B, and the adjacent keys across the cut give the lumped separation
factor. Below the S_min of a sharp split of those two groups (Xu's two-outlet theory,
``theory.minimum_flows`` at purities -> 1: (beta f_A + f_B) / (beta - 1) for an aqueous feed)
the cascade pinches at the feed stage: more stages no longer make the products purer. The
solver still returns the steady state; this says why it looks the way it does.

Only aqueous feeds are checked: for an organic feed the theory's limit, 1 / (beta - 1), is
above the S of the published CePr/Nd design this package reproduces (S = 0.99 at beta 1.55),
so it is not trusted as a warning there.
"""

from __future__ import annotations

import numpy as np

from rareflow.process.cascade import Cascade


def sharp_minimum(cascade: Cascade) -> tuple[str, str, float, float] | None:
    """(light key, heavy key, lumped beta, S_min of a sharp split at the implied cut), or
    None if the feed is organic, the flows imply no split or the keys do not separate."""
    raffinate, product = cascade.outlet_flows
    if product <= 0 or raffinate <= 0:
        return None
    order = np.argsort(cascade.beta, kind="stable")
    feed = cascade.feed[order]
    beta = cascade.beta[order]
    top = np.cumsum(feed[::-1])[:-1]  # feed of the k most extractable, k = 1..count-1
    k = int(np.argmin(np.abs(top - product))) + 1
    cut = len(feed) - k
    heavy, light = int(order[cut]), int(order[cut - 1])
    ratio = float(beta[cut] / beta[cut - 1])
    if ratio <= 1.0:
        return None
    fa = float(feed[cut:].sum())
    fb = 1.0 - fa
    if cascade.feed_phase != "aqueous":
        return None
    s_min = (ratio * fa + fb) / (ratio - 1.0)
    return cascade.components[light], cascade.components[heavy], ratio, s_min


def pinch_warning(cascade: Cascade) -> str | None:
    """A warning when S is below the sharp-split S_min of the cascade's own cut."""
    found = sharp_minimum(cascade)
    if found is None:
        return None
    light, heavy, ratio, s_min = found
    if cascade.extractant >= s_min:
        return None
    return (
        f"S = {cascade.extractant:.4g} is below S_min = {s_min:.4g} of a sharp {light}/{heavy} "
        f"split at the cut these flows imply (lumped separation factor {ratio:.4g}, Xu's "
        "two-outlet theory): the cascade is pinched at the feed stage, so more stages will "
        "not make the products much purer; raise S (and W with it)"
    )
