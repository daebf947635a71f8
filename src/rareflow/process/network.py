"""Networks of mass-action cascades solved together (hyperlinked flowsheets).

Each block is a cascade (extraction, scrub and strip sections, as ``MassActionCascade``) whose
feed may come from outside, from other blocks' streams, or both. A link sends a share of a
block's raffinate or strip liquor into another block's feed stage, or a block's loaded organic
into another block's first stage in place of fresh organic (the organic then runs through both,
as loaded organic is passed on in Chinese hyperlinked flowsheets). All blocks' stages form one
topology (``process/topology.py``) solved at once, loops included. Aqueous links must not form
a loop (each block's flows follow from the blocks that feed it); organic loops are the blocks'
own recycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from rareflow.process.impurities import charge_of, is_impurity
from rareflow.process.theory import SpecError
from rareflow.process.topology import (
    NEUTRALISATION_LOG_K,
    Solved,
    Topology,
    solve_topology,
)

Stream = Literal["raffinate", "strip_liquor", "loaded_organic"]


class Sections(Protocol):
    """The sections and liquors of a cascade (a ``MassActionCascade`` or a network's block)."""

    @property
    def n(self) -> int: ...
    @property
    def m(self) -> int: ...
    @property
    def p(self) -> int: ...
    @property
    def scrub_m3_h(self) -> float: ...
    @property
    def strip_m3_h(self) -> float: ...
    @property
    def strip_acid_mol_per_l(self) -> float: ...
    @property
    def reflux(self) -> float: ...
    @property
    def recycle_organic(self) -> bool: ...


def check_sections(cascade: Sections, where: str) -> None:
    """Refuse sections and liquors that cannot work together (``where`` prefixes the reason)."""
    c = cascade
    if c.n < 1 or c.m < 0 or c.p < 0:
        raise SpecError(where + "need n >= 1 extraction stages and m, p >= 0 scrub and strip "
                        "stages")  # fmt: skip
    if c.m > 0 and c.scrub_m3_h + c.reflux * c.strip_m3_h <= 0:
        raise SpecError(where + "a scrub section (m > 0) needs scrub_m3_h > 0 or a reflux")
    if c.p > 0 and (c.strip_m3_h <= 0 or c.strip_acid_mol_per_l <= 0):
        raise SpecError(where + "a strip section (p > 0) needs strip_m3_h and strip acid > 0")
    if not 0.0 <= c.reflux < 1.0 or (c.reflux > 0 and (c.p == 0 or c.m == 0)):
        raise SpecError(where + "reflux is a share in [0, 1) and needs strip and scrub sections")
    if c.recycle_organic and c.p == 0:
        raise SpecError(where + "recycling the organic needs a strip section (p > 0)")


Stoichiometry = tuple[float, float]
"""(protons released, dimers bound) per extracted ion."""


@dataclass(frozen=True)
class Block:
    """One cascade of a network (flows m3/h, concentrations mol/L)."""

    id: str
    n: int
    organic_m3_h: float
    m: int = 0
    p: int = 0
    feed_m3_h: float = 0.0
    feed_mol_per_l: float = 0.0
    feed_fractions: tuple[float, ...] = ()
    feed_acid_mol_per_l: float = 0.0
    scrub_m3_h: float = 0.0
    scrub_acid_mol_per_l: float = 0.0
    strip_m3_h: float = 0.0
    strip_acid_mol_per_l: float = 0.0
    reflux: float = 0.0
    recycle_organic: bool = False
    saponification: float = 0.0
    """Share of the extractant of the organic entering the first stage (fresh, or stripped and
    recycled) pre-neutralised as its Na+ or NH4+ salt."""

    def __post_init__(self) -> None:
        check_sections(self, f"block {self.id}: ")
        if self.organic_m3_h <= 0:
            raise SpecError(f"block {self.id}: organic_m3_h must be > 0")
        if not 0.0 <= self.saponification < 1.0:
            raise SpecError(f"block {self.id}: saponification is a share in [0, 1)")

    @property
    def stages(self) -> int:
        return self.n + self.m + self.p


@dataclass(frozen=True)
class Link:
    """A share of ``source``'s stream into ``target``."""

    source: str
    stream: Stream
    target: str
    share: float = 1.0


@dataclass(frozen=True)
class Network:
    components: tuple[str, ...]
    log_k: np.ndarray
    extractant_mol_per_l: float
    blocks: tuple[Block, ...]
    links: tuple[Link, ...] = ()
    efficiency: float = 1.0
    neutralisation_log_k: float = NEUTRALISATION_LOG_K
    stoichiometry: tuple[Stoichiometry, ...] | None = None
    """(protons released, dimers bound) per extracted ion of each component (None: each ion's
    charge for both, 3 and 3 for the rare earths)."""
    offsets: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        ids = [b.id for b in self.blocks]
        if not ids or len(set(ids)) != len(ids):
            raise SpecError("a network needs blocks with distinct ids")
        offsets, total = {}, 0
        for block in self.blocks:
            offsets[block.id] = total
            total += block.stages
        object.__setattr__(self, "offsets", offsets)
        for link in self.links:
            if link.source not in offsets or link.target not in offsets:
                raise SpecError(f"link {link.source} -> {link.target}: unknown block")
            if link.source == link.target:
                raise SpecError(f"link of {link.source} to itself: use reflux or recycle")
            if not 0.0 < link.share <= 1.0:
                raise SpecError(f"link {link.source} -> {link.target}: share in (0, 1]")
        if self.stoichiometry is not None and (
            len(self.stoichiometry) != len(self.components)
            or min(min(pair) for pair in self.stoichiometry) <= 0
        ):
            raise SpecError("stoichiometry: one positive (protons, dimers) pair per component")
        for block in self.blocks:
            for stream in ("raffinate", "strip_liquor", "loaded_organic"):
                if self.linked_share(block.id, stream) > 1.0 + 1e-12:
                    raise SpecError(f"{block.id}'s {stream} is sent on more than whole")
        if not any(b.feed_m3_h > 0 for b in self.blocks):
            raise SpecError("a network needs at least one block with an external feed")
        self.aqueous_order()  # refuses loops of aqueous links

    def block(self, block_id: str) -> Block:
        return next(b for b in self.blocks if b.id == block_id)

    def linked_share(self, block_id: str, stream: str) -> float:
        return sum(k.share for k in self.links if k.source == block_id and k.stream == stream)

    def organic_source(self, block_id: str) -> Block | None:
        """The block whose loaded organic enters this one (None: fresh organic)."""
        sources = [k.source for k in self.links
                   if k.target == block_id and k.stream == "loaded_organic"]  # fmt: skip
        if len(sources) > 1:
            raise SpecError(f"{block_id} takes loaded organic from more than one block")
        return self.block(sources[0]) if sources else None

    def aqueous_order(self) -> list[Block]:
        """Blocks ordered so that every aqueous link runs forward (refuses loops)."""
        waiting = {b.id: {k.source for k in self.links
                          if k.target == b.id and k.stream != "loaded_organic"}
                   for b in self.blocks}  # fmt: skip
        ordered: list[Block] = []
        while waiting:
            ready = [b for b in self.blocks if b.id in waiting and not waiting[b.id]]
            if not ready:
                raise SpecError(f"aqueous links form a loop among {', '.join(sorted(waiting))}")
            for block in ready:
                ordered.append(block)
                del waiting[block.id]
                for sources in waiting.values():
                    sources.discard(block.id)
        return ordered

    def stream_flow(self, block: Block, stream: str, inflow: dict[str, float]) -> float:
        """Aqueous flow of a block's outgoing stream before links (m3/h)."""
        if stream == "raffinate":
            return block.scrub_m3_h + block.reflux * block.strip_m3_h + inflow[block.id]
        return (1.0 - block.reflux) * block.strip_m3_h

    def feed_inflows(self) -> dict[str, float]:
        """Aqueous flow entering each block's feed stage: its own feed and the linked streams."""
        inflow: dict[str, float] = {}
        for block in self.aqueous_order():
            inflow[block.id] = block.feed_m3_h + sum(
                k.share * self.stream_flow(self.block(k.source), k.stream, inflow)
                for k in self.links if k.target == block.id and k.stream != "loaded_organic"
            )  # fmt: skip
        return inflow

    def topology(self) -> Topology:
        """Every block's stages and streams, and the links between them, as one topology."""
        total, count = sum(b.stages for b in self.blocks), len(self.components)
        inflow = self.feed_inflows()
        qa, qo = np.zeros(total), np.zeros(total)
        aqueous, organic, recycle = (np.zeros((total, total)) for _ in range(3))
        feed, acid, base = np.zeros((count, total)), np.zeros(total), np.zeros(total)
        liquors: list[tuple[int, float, float]] = []
        for block in self.blocks:
            at, top = self.offsets[block.id], self.offsets[block.id] + block.n + block.m
            source = self.organic_source(block.id)
            flow = block.organic_m3_h if source is None else source.organic_m3_h
            if source is not None and abs(block.organic_m3_h - source.organic_m3_h) > 1e-12:
                raise SpecError(f"{block.id} takes {source.id}'s loaded organic, so its "
                                f"organic_m3_h must be {source.organic_m3_h:g}")  # fmt: skip
            stages = range(at, at + block.stages)
            qo[at : at + block.stages] = flow
            qa[at:top] = block.scrub_m3_h + block.reflux * block.strip_m3_h
            qa[at : at + block.n] += inflow[block.id]
            qa[top : at + block.stages] = block.strip_m3_h
            for k in stages:
                if k + 1 < at + block.stages and k + 1 != top:
                    aqueous[k, k + 1] = qa[k + 1]
                if k > at:
                    organic[k, k - 1] = flow
            if block.p and block.m:
                aqueous[top - 1, top] = block.reflux * block.strip_m3_h
            if block.recycle_organic:
                recycle[at, at + block.stages - 1] = flow
            if source is not None:
                organic[at, self.offsets[source.id] + source.stages - 1] = flow
                if block.saponification > 0:
                    raise SpecError(
                        f"{block.id} takes {source.id}'s loaded organic, which is not "
                        "saponified again: set its saponification to 0"
                    )
            base[at] = block.saponification * self.extractant_mol_per_l * flow
            stage = at + block.n - 1
            if block.feed_m3_h > 0:
                feed[:, stage] += (
                    block.feed_m3_h * block.feed_mol_per_l * np.asarray(block.feed_fractions)
                )
                acid[stage] += block.feed_m3_h * block.feed_acid_mol_per_l
            if block.m and block.scrub_m3_h > 0:
                liquors.append((top - 1, block.scrub_m3_h, block.scrub_acid_mol_per_l))
            if block.p:
                liquors.append((at + block.stages - 1, block.strip_m3_h,
                                block.strip_acid_mol_per_l))  # fmt: skip
        for link in self.links:
            if link.stream == "loaded_organic":
                continue
            source, target = self.block(link.source), self.block(link.target)
            at = self.offsets[source.id]
            leaving = at if link.stream == "raffinate" else at + source.n + source.m
            into = self.offsets[target.id] + target.n - 1
            aqueous[into, leaving] += link.share * self.stream_flow(source, link.stream, inflow)
        weak = min((b.feed_acid_mol_per_l for b in self.blocks if b.feed_acid_mol_per_l > 0),
                   default=0.01)  # fmt: skip
        return Topology(self.log_k, self.extractant_mol_per_l, self.efficiency, qa, qo, aqueous,
                        organic, recycle, feed, acid, tuple(liquors), weak,
                        base if base.any() else None, self.neutralisation_log_k,
                        self.charges(), self.dimers())  # fmt: skip

    def charges(self) -> np.ndarray | None:
        """Protons each component's ion releases (None: 3 for every one, all RE)."""
        if self.stoichiometry is not None:
            return np.array([protons for protons, _ in self.stoichiometry], dtype=float)
        if not any(is_impurity(c) for c in self.components):
            return None
        return np.array([charge_of(c) for c in self.components], dtype=float)

    def dimers(self) -> np.ndarray | None:
        """Dimers each component's ion binds (None: as many as the protons it releases)."""
        if self.stoichiometry is None:
            return None
        return np.array([dimers for _, dimers in self.stoichiometry], dtype=float)


@dataclass(frozen=True)
class NetworkSolution:
    network: Network
    solved: Solved

    def outlets(self) -> dict[str, np.ndarray]:
        """mol/h of each component in every stream that leaves the network."""
        net, s = self.network, self.solved
        inflow, organic_flows = net.feed_inflows(), s.topology.organic_out
        found: dict[str, np.ndarray] = {}
        for block in net.blocks:
            at = net.offsets[block.id]
            for stream, stage in (("raffinate", at), ("strip_liquor", at + block.n + block.m)):
                if stream == "strip_liquor" and not block.p:
                    continue
                left = 1.0 - net.linked_share(block.id, stream)
                flow = net.stream_flow(block, stream, inflow) * left
                if left > 1e-12:
                    found[f"{block.id}.{stream}"] = s.aqueous[:, stage] * flow
            organic_out = (
                not block.recycle_organic and net.linked_share(block.id, "loaded_organic") == 0
            )
            if organic_out:
                last = at + block.stages - 1
                found[f"{block.id}.loaded_organic"] = s.organic[:, last] * organic_flows[last]
        return found

    def feed_flow(self) -> np.ndarray:
        return np.asarray(self.solved.topology.feed.sum(axis=1))

    def _aqueous_outlets(self) -> list[tuple[int, float]]:
        """(stage, m3/h) of every aqueous stream leaving the network."""
        net, inflow = self.network, self.network.feed_inflows()
        found = []
        for block in net.blocks:
            at = net.offsets[block.id]
            for stream, stage in (("raffinate", at), ("strip_liquor", at + block.n + block.m)):
                if stream == "strip_liquor" and not block.p:
                    continue
                left = 1.0 - net.linked_share(block.id, stream)
                found.append((stage, net.stream_flow(block, stream, inflow) * left))
        return found

    def proton_closure(self) -> float:
        """|acid in + 3 x RE leaving in organic streams - acid and counter-ions leaving| /
        acid in: chloride is conserved, so H+ and M+ leave with what acid and RE came in."""
        s = self.solved
        acid_in = float(s.topology.acid_in(1.0).sum())
        outlets = self._aqueous_outlets()
        out = sum(float(s.acid[stage]) * flow for stage, flow in outlets)
        if s.counter_ion is not None:
            out += sum(float(s.counter_ion[stage]) * flow for stage, flow in outlets)
        charge = s.topology.charges()[:, 0]
        released = sum(float(charge @ v) for k, v in self.outlets().items()
                       if k.endswith(".loaded_organic"))  # fmt: skip
        return abs(acid_in + released - out) / acid_in

    def counter_ion_closure(self) -> float:
        """|salt fed - M+ in the aqueous outlets - MA in the organic outlets| / salt fed (0
        when nothing is saponified)."""
        s, net = self.solved, self.network
        if s.counter_ion is None or s.salt is None or s.topology.base is None:
            return 0.0
        fed = float(s.topology.base.sum())
        out = sum(float(s.counter_ion[stage]) * flow for stage, flow in self._aqueous_outlets())
        for block in net.blocks:
            if not block.recycle_organic and net.linked_share(block.id, "loaded_organic") == 0:
                last = net.offsets[block.id] + block.stages - 1
                out += float(s.salt[last]) * float(s.topology.organic_out[last])
        return abs(fed - out) / fed

    def closure(self) -> np.ndarray:
        out = sum(self.outlets().values())
        feed = self.feed_flow()
        return np.asarray(np.abs(out - feed) / np.maximum(feed, 1e-300))

    def summary(self) -> pd.DataFrame:
        rows = []
        for name, amounts in self.outlets().items():
            total = float(amounts.sum())
            for component, amount in zip(self.network.components, amounts, strict=True):
                rows.append({"stream": name, "component": component, "mol_h": float(amount),
                             "purity": float(amount) / total if total > 0 else 0.0})  # fmt: skip
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"components": list(self.network.components),
                "streams": self.summary().to_dict(orient="records"),
                "closure": [float(v) for v in self.closure()],
                "proton_closure": self.proton_closure(),
                "counter_ion_closure": self.counter_ion_closure(),
                "solver": {"solves": self.solved.solves,
                           "residual": self.solved.residual}}  # fmt: skip


def solve_network(network: Network) -> NetworkSolution:
    """Steady state of every block at once; raises ``SpecError`` if it does not converge."""
    return NetworkSolution(network, solve_topology(network.topology()))
