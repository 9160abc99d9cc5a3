"""The departments a process crosses. Each role, business system and AI step declares its own
department beside its declaration (roles.py, bots.py, ai.py), so insight can say which
department did what, and how long each one kept a process waiting."""

from enum import StrEnum


class Department(StrEnum):
    SALES = "sales"
    INVENTORY = "inventory"
    PRODUCTION = "production"
    FINANCE = "finance"
    ACCOUNTS_PAYABLE = "accounts payable"
