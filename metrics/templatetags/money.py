"""Amounts of money and usage for the console (metrics.billing's Decimals).

{{ amount|money }}: 2 decimals from a cent up (12.35), else 4 significant
digits so one call's price is not shown as 0.00 (0.0000002021); 0 is 0.00.
{{ amount|money_with_currency }}: the same and the billing currency.
{{ gb_s|gb_seconds }}: GB-seconds with 3 decimals, or 4 significant digits below 0.001.
{{ n|count }}: a whole number with thousands separators (1,000,000)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.conf import settings

register = template.Library()

CENT = Decimal("0.01")


def _significant(value: Decimal, places: int, digits: int = 4) -> str:
    if value == 0:
        return f"{Decimal(0):.{places}f}"
    if abs(value) >= Decimal(1).scaleb(-places):
        return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"
    decimals = -value.adjusted() + digits - 1
    return format(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP).normalize(), "f")


@register.filter
def money(value) -> str:
    if value is None or value == "":
        return ""
    return _significant(Decimal(value), 2)


@register.filter
def money_with_currency(value) -> str:
    if value is None or value == "":
        return ""
    return f"{money(value)} {settings.STRATUS_BILLING_CURRENCY}"


@register.filter
def gb_seconds(value) -> str:
    if value is None or value == "":
        return ""
    return _significant(Decimal(value), 3)


@register.filter
def count(value) -> str:
    if value is None or value == "":
        return ""
    return f"{int(value):,}"
