"""Policy levers of one market year: the schema shared by ``market.yaml`` and scenario files.

Places (``origin``, ``destination``, ``countries``) are country codes or country-group ids of
the dataset; an empty list means everywhere. Commodities are the market's product classes:
``concentrate``, ``oxide``, ``metal``, ``magnet``, ``gallium``; ``elements`` narrows a rule to
products containing any of the elements (a magnet grade contains its recipe's rare earths, a
concentrate the elements of its ore).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rareflow.dataset.schema import Id, Place, numbers_not_booleans

Commodity = Literal["concentrate", "oxide", "metal", "magnet", "gallium"]
COMMODITIES: tuple[Commodity, ...] = ("concentrate", "oxide", "metal", "magnet", "gallium")
Positive = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Lever(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    _numbers = numbers_not_booleans()

    id: Id
    source: list[Id] = []
    note: str | None = None


class TradeRule(Lever):
    """Matches trade flows by commodity, elements, origin and destination."""

    commodities: list[Commodity] = list(COMMODITIES)
    elements: list[str] = []
    origin: list[Place] = []
    destination: list[Place] = []
    exclude_destination: list[Place] = []


class ExportBan(TradeRule):
    """Matched flows are forbidden (upper bound zero)."""


class Quota(TradeRule):
    """Matched flows together at most ``limit_t`` tonnes of product per year."""

    limit_t: Positive


class Tariff(TradeRule):
    """Ad valorem duty on matched flows, charged on the commodity's reference value."""

    rate_pct: Annotated[float, Field(ge=0, le=1000)]
    """At most 1,000 % (ten times the value)."""


class ExportTax(TradeRule):
    """Ad valorem export duty on matched flows, charged on the export (FOB) price. China's
    export taxes of 2007-2015 are the case in point; the tax is a cost of the export step, so it
    opens a wedge between the domestic and the export price."""

    rate_pct: Annotated[float, Field(ge=0, le=100)]


class Licence(TradeRule):
    """Matched flows need a licence: ``refused_share`` of the volume each product had the
    year before is delayed past the year or refused (it does not arrive), and each licensed t
    costs ``cost_usd_per_kg`` of paperwork and waiting. With ``closes_smuggling`` the licence
    is enforced at the border like a ban (export-control law with criminal penalties and a
    customs campaign): no smuggling around it while it is in force.

    ``rent_holder`` says who keeps the scarcity rent of the licensed volume (the licence row's
    dual per kg, docs/market.md "Two tiers in China"). ``exporter``: the exporter sells at the
    price the rationed product fetches abroad, so China's export (FOB) price carries the rent,
    as under a quota. ``buyer``: a licence is granted for one contract with a named buyer, the
    exporter sells at its domestic price plus taxes and licence costs, and whoever obtains the
    licensed material keeps the gap to the price outside China (China's 2025 licences: Argus's
    FOB quotes stayed within a fifth of China's domestic prices while Europe's tripled). The
    market's quantities and every other price are the same either way; the reported FOB price
    and who is credited with the rent differ."""

    refused_share: Annotated[float, Field(ge=0, le=1)]
    cost_usd_per_kg: Positive = 0.0
    closes_smuggling: bool = False
    rent_holder: Literal["exporter", "buyer"] = "exporter"


class Threat(Lever):
    """Holders of stocks at ``places`` (codes or groups; empty = everywhere) perceive a threat
    to their supply of the ``elements`` (products containing them) at ``level`` (0-1): they
    value stocks more (precautionary demand, docs/market.md)."""

    elements: Annotated[list[str], Field(min_length=1)]
    places: list[Place] = []
    level: Annotated[float, Field(ge=0, le=1)] = 1.0


class Crackdown(Lever):
    """Enforcement against China's mining outside the quota (the campaigns of 2011-2012 and
    2016-2018): while in force, output outside the quota is at most ``limit_t`` t REO a year
    and no new capacity opens; idled capacity returns when the campaign ends (illegal output
    was back above 40,000 t in 2014, docs/market.md)."""

    limit_t: Positive


class PriceFloor(Lever):
    """A buyer guarantees ``floor_usd_per_kg`` on up to ``volume_t`` of the plants' output of the
    elements (as oxide): the producers are paid the gap to the market price."""

    plants: Annotated[list[Id], Field(min_length=1)]
    elements: Annotated[list[str], Field(min_length=1)]
    floor_usd_per_kg: Positive
    volume_t: Positive


class Offtake(Lever):
    """A buyer at ``location`` takes up to ``volume_t`` of the plants' output at a fixed price."""

    plants: Annotated[list[Id], Field(min_length=1)]
    commodity: Literal["oxide", "metal", "magnet"]
    items: Annotated[list[str], Field(min_length=1)]
    location: Place
    volume_t: Positive
    price_usd_per_kg: Positive


class Subsidy(Lever):
    """Lowers the unit cost of plants (by id) or of every plant of a stage in ``countries``."""

    plants: list[Id] = []
    countries: list[Place] = []
    stage: Literal["mine", "separation", "metal", "magnet", "gallium"] | None = None
    usd_per_kg: Positive


class StockRelease(Lever):
    """A stockpile at ``location`` releases up to ``volume_t`` of one product."""

    location: Place
    commodity: Literal["oxide", "metal", "magnet", "gallium"]
    item: str
    volume_t: Positive


class StockPurchase(StockRelease):
    """A stockpile at ``location`` buys up to ``volume_t`` while the price is below the cap."""

    max_price_usd_per_kg: Positive


class SourcingRule(Lever):
    """Demand segments (regions x end uses) may only use material that no plant in
    ``excluded`` touched at any stage upstream (mine, separation, metal, magnet)."""

    regions: Annotated[list[str], Field(min_length=1)]
    end_uses: list[Id] = []
    excluded: Annotated[list[Place], Field(min_length=1)]


class Levers(BaseModel):
    """Every lever of one year."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    bans: list[ExportBan] = []
    quotas: list[Quota] = []
    tariffs: list[Tariff] = []
    export_taxes: list[ExportTax] = []
    licences: list[Licence] = []
    threats: list[Threat] = []
    crackdowns: list[Crackdown] = []
    floors: list[PriceFloor] = []
    offtakes: list[Offtake] = []
    subsidies: list[Subsidy] = []
    stock_releases: list[StockRelease] = []
    stock_purchases: list[StockPurchase] = []
    sourcing_rules: list[SourcingRule] = []

    def merged(self, other: Levers) -> Levers:
        """These levers plus ``other``'s (same id: ``other`` wins)."""
        fields: dict[str, list[Lever]] = {}
        for name in type(self).model_fields:
            by_id = {lever.id: lever for lever in getattr(self, name)}
            by_id.update({lever.id: lever for lever in getattr(other, name)})
            fields[name] = list(by_id.values())
        return Levers.model_validate(fields)
