"""The roles people hold; human tasks name the roles that may decide them."""

from enum import StrEnum


class Role(StrEnum):
    SALES_REP = "sales_rep"
    SALES_MANAGER = "sales_manager"
    FINANCE_CONTROLLER = "finance_controller"
    AP_CLERK = "ap_clerk"
    ADMIN = "admin"
    ANALYST = "analyst"  # reads insight: KPIs, the process map, exports
    ROBOT = "robot"  # external robots (RPA tools, scripts) that take jobs from a pool
