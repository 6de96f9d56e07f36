"""The seam to withholding tax (issue 12 item 5).

``legato_pay.payouts.tax`` (another change) provides ``withholding_for(session, settings,
writer, gross_minor, currency) -> (tax_minor, rate, country)``. Until that module exists this
seam withholds nothing (``(0, "0", None)``); once it does, every payout request uses it with no
change here. Only a missing module falls back: an error inside it propagates.
"""

from __future__ import annotations

import importlib
import importlib.util

from sqlalchemy.orm import Session

from legato_pay.config import Settings

TAX_MODULE = "legato_pay.payouts.tax"


def withholding_for(
    session: Session, settings: Settings, writer: str, gross_minor: int, currency: str
) -> tuple[int, str, str | None]:
    """(tax in minor units, rate as a decimal string, country or None) for one payout."""
    if importlib.util.find_spec(TAX_MODULE) is None:
        return 0, "0", None
    module = importlib.import_module(TAX_MODULE)
    tax, rate, country = module.withholding_for(session, settings, writer, gross_minor, currency)
    return int(tax), str(rate), country
