"""What a call costs in money: a small, dated, editable price table, always an estimate.

The table is ``chatkit/data/prices.toml`` (or the file in ``CHATKIT_PRICES_FILE``): per
million input, cached-input and output tokens, with the date and source of each price, one
table per provider (its endpoint's ``models_key``). Models not in it have no price, and the
app shows their tokens only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

PRICES_FILE_ENV = "CHATKIT_PRICES_FILE"
DEFAULT_PRICES_FILE = Path(__file__).with_name("data") / "prices.toml"
PER_TOKENS = 1_000_000
LEGACY_TABLE = "models"  # a price file of the format before per-provider tables


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens for one model, and where the figures come from."""

    model: str
    input: float
    output: float
    cached_input: float | None = None
    date: str = ""
    source: str = ""

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """Dollars for one call; ``input_tokens`` includes the cached ones (OpenAI's way)."""
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (
            (input_tokens - cached) * self.input
            + cached * cached_rate
            + output_tokens * self.output
        ) / PER_TOKENS


@cache
def _tables(path: str) -> dict[str, dict[str, Price]]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {key: _table(entries) for key, entries in data.items() if isinstance(entries, dict)}


def _table(entries: dict[str, object]) -> dict[str, Price]:
    table: dict[str, Price] = {}
    for model, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        try:
            table[model] = Price(
                model=model,
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=float(entry["cached_input"]) if "cached_input" in entry else None,
                date=str(entry.get("date", "")),
                source=str(entry.get("source", "")),
            )
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry prices nothing rather than something wrong
    return table


def price_for(model: str, models_key: str | None = None) -> Price | None:
    """The price of ``model`` in the table ``models_key`` (None: any table), by the longest
    listed name it starts with; None if unknown."""
    path = os.environ.get(PRICES_FILE_ENV) or str(DEFAULT_PRICES_FILE)
    return _price_in(path, model, models_key)


@lru_cache(maxsize=4096)
def _price_in(path: str, model: str, models_key: str | None) -> Price | None:
    tables = _tables(path)
    chosen = [tables.get(models_key, {})] if models_key else list(tables.values())
    if models_key and LEGACY_TABLE in tables:  # a file of the older format: one table for all
        chosen.append(tables[LEGACY_TABLE])
    matches = [
        price
        for table in chosen
        for name, price in table.items()
        if model == name or model.startswith(name + "-")
    ]
    return max(matches, key=lambda price: len(price.model)) if matches else None


def cost_of(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    *,
    models_key: str | None = None,
) -> float | None:
    """Dollars for one call of ``model``, or None when its price is not known."""
    price = price_for(model, models_key)
    if price is None:
        return None
    return price.cost(input_tokens, output_tokens, cached_input_tokens)


def format_money(dollars: float) -> str:
    """$0.0123 -> '≈$0.012'; small sums keep enough digits to be seen."""
    if dollars >= 1:
        return f"≈${dollars:,.2f}"
    if dollars >= 0.01:
        return f"≈${dollars:.3f}"
    return f"≈${dollars:.5f}".rstrip("0").rstrip(".") if dollars else "$0"
