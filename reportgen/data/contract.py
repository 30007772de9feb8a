"""The input contract: the columns a customer extract must carry and what each one means.

One row per customer. The 17 behaviour columns follow the public "Credit Card Dataset for
Clustering" (``CC GENERAL.csv``). Every other module refers to columns through the names
defined here, never through string literals of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

ID_COLUMN = "CUST_ID"


@dataclass(frozen=True)
class Column:
    """One behaviour column of the contract.

    ``kind`` drives validation and the transform:

    - ``amount``: money, >= 0, heavily right-skewed (log1p before scaling);
    - ``count``: whole transactions, >= 0, skewed (log1p before scaling);
    - ``frequency``: a share in [0, 1], used as it is;
    - ``tenure``: months of card service, 1..12.
    """

    name: str
    kind: str
    unit: str
    description: str
    imputable: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("BALANCE", "amount", "$", "Balance left on the account to make purchases"),
    Column("BALANCE_FREQUENCY", "frequency", "share", "How often the balance is updated (1 = frequently)"),
    Column("PURCHASES", "amount", "$", "Amount of purchases"),
    Column("ONEOFF_PURCHASES", "amount", "$", "Largest amount bought in one go"),
    Column("INSTALLMENTS_PURCHASES", "amount", "$", "Amount bought in instalments"),
    Column("CASH_ADVANCE", "amount", "$", "Cash drawn in advance"),
    Column("PURCHASES_FREQUENCY", "frequency", "share", "How often purchases are made"),
    Column("ONEOFF_PURCHASES_FREQUENCY", "frequency", "share", "How often one-off purchases are made"),
    Column(
        "PURCHASES_INSTALLMENTS_FREQUENCY", "frequency", "share", "How often instalment purchases are made"
    ),
    Column("CASH_ADVANCE_FREQUENCY", "frequency", "share", "How often cash advances are taken"),
    Column("CASH_ADVANCE_TRX", "count", "transactions", "Number of cash-advance transactions"),
    Column("PURCHASES_TRX", "count", "transactions", "Number of purchase transactions"),
    Column("CREDIT_LIMIT", "amount", "$", "Credit limit", imputable=True),
    Column("PAYMENTS", "amount", "$", "Amount paid by the customer"),
    Column("MINIMUM_PAYMENTS", "amount", "$", "Minimum payments made", imputable=True),
    Column("PRC_FULL_PAYMENT", "frequency", "share", "Share of months with the full balance paid"),
    Column("TENURE", "tenure", "months", "Months of card service"),
)

FEATURES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
SKEWED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind in ("amount", "count"))
FREQUENCIES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "frequency")
IMPUTABLE: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.imputable)
TENURE_RANGE = (1, 12)

# Derived ratios used by the persona playbook and the profiles. Each is numerator / denominator,
# with a zero or missing denominator giving 0 (a customer with no purchases has no average ticket).
RATIOS: dict[str, tuple[str, str, str]] = {
    "UTILISATION": ("BALANCE", "CREDIT_LIMIT", "Balance / credit limit"),
    "PAYMENT_RATIO": ("PAYMENTS", "MINIMUM_PAYMENTS", "Payments / minimum payments"),
    "AVERAGE_TICKET": ("PURCHASES", "PURCHASES_TRX", "Purchases / purchase transactions ($)"),
    "CASH_ADVANCE_SHARE": ("CASH_ADVANCE", "CASH_ADVANCE+PURCHASES", "Cash advance / (cash advance + purchases)"),
}
