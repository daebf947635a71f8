"""Equilibria of the game on one year's model: Nash by Gauss-Seidel best responses, Stackelberg
with China as the leader, and a check that no player gains by deviating.

Nash: China best-responds to the alliance's policy, then the alliance to China's new one, and so
on, until a round changes nothing (an equilibrium on the instrument grids) or a profile comes
back (a cycle, reported with its profiles). Grids are discrete, so a step cannot be damped;
convergence is not guaranteed in general (diagonalisation of bilevel games), which is why every
result says how it ended.

Stackelberg: China searches its instruments coordinate by coordinate, and every policy it tries
is scored after the alliance's best response to it (the leader anticipates the follower).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rareflow.game.instruments import ALLIANCE_PLAYER, CHINA_PLAYER
from rareflow.game.play import Game, Profile, better

MAX_ROUNDS = 8


@dataclass
class Round:
    player: str
    profile: Profile
    objectives: dict[str, float]


@dataclass
class Equilibrium:
    mode: str
    profile: Profile
    converged: bool
    rounds: list[Round] = field(default_factory=list)
    cycle: list[Profile] = field(default_factory=list)
    """The profiles that repeat, when best responses cycle instead of settling."""
    deviations: dict[str, float] = field(default_factory=dict)
    """Player -> the most it gains by changing one instrument alone (0 at an equilibrium)."""
    evaluations: int = 0


def nash(game: Game, start: Profile | None = None, rounds: int = MAX_ROUNDS) -> Equilibrium:
    """Gauss-Seidel best responses from ``start`` (price-taking: every instrument at zero)."""
    profile = dict(start) if start is not None else game.zero()
    seen: list[Profile] = [profile]
    result = Equilibrium("nash", profile, converged=False)
    before = game.evaluations
    for _ in range(rounds):
        moved = False
        for player in (CHINA_PLAYER, ALLIANCE_PLAYER):
            if not game.of(player):
                continue
            response = game.best_response(player, profile)
            moved |= response != profile
            profile = response
            result.rounds.append(Round(player, profile, game.evaluate(profile).objectives))
        if not moved:
            result.converged = True
            break
        if profile in seen:
            result.cycle = seen[seen.index(profile) :]
            break
        seen.append(profile)
    result.profile = profile
    result.deviations = deviations(game, profile)
    result.evaluations = game.evaluations - before
    return result


def stackelberg(game: Game) -> Equilibrium:
    """China leads: each policy it tries is scored after the alliance's best response."""
    before = game.evaluations
    result = Equilibrium("stackelberg", game.zero(), converged=True)

    def follow(leader: Profile) -> Profile:
        return game.best_response(ALLIANCE_PLAYER, leader) if game.of(ALLIANCE_PLAYER) else leader

    current = follow(game.zero())
    best = game.evaluate(current).objectives[CHINA_PLAYER]
    for _ in range(3):
        changed = False
        for instrument in game.of(CHINA_PLAYER):
            for value in instrument.grid:
                trial = follow({**current, instrument.id: value})
                score = game.evaluate(trial).objectives[CHINA_PLAYER]
                if better(score, best):
                    current, best, changed = trial, score, True
        result.rounds.append(Round(CHINA_PLAYER, current, game.evaluate(current).objectives))
        if not changed:
            break
    result.profile = current
    result.deviations = {ALLIANCE_PLAYER: deviations(game, current)[ALLIANCE_PLAYER]}
    result.evaluations = game.evaluations - before
    return result


def deviations(game: Game, profile: Profile) -> dict[str, float]:
    """Per player, the largest gain (million USD) from changing one of its instruments alone to
    any value of its grid (gains within the split's numerical noise count as none)."""
    found = {}
    for player in (CHINA_PLAYER, ALLIANCE_PLAYER):
        here = game.evaluate(profile).objectives[player]
        gain = 0.0
        for instrument in game.of(player):
            for value in instrument.grid:
                score = game.evaluate({**profile, instrument.id: value}).objectives[player]
                if better(score, here):
                    gain = max(gain, score - here)
        found[player] = gain
    return found
