"""The roles people hold; human tasks name the roles that may decide them."""

from enum import StrEnum

from workflows.contracts.departments import Department


class Role(StrEnum):
    SALES_REP = "sales_rep"
    SALES_MANAGER = "sales_manager"
    FINANCE_CONTROLLER = "finance_controller"
    AP_CLERK = "ap_clerk"
    ADMIN = "admin"
    ANALYST = "analyst"  # reads insight: KPIs, the process map, exports
    ROBOT = "robot"  # external robots (RPA tools, scripts) that take jobs from a pool


# The department each deciding role works in (a human step's department); admins, analysts and
# robots work across departments: their steps count for the process's own department.
ROLE_DEPARTMENTS: dict[Role, Department] = {
    Role.SALES_REP: Department.SALES,
    Role.SALES_MANAGER: Department.SALES,
    Role.FINANCE_CONTROLLER: Department.FINANCE,
    Role.AP_CLERK: Department.ACCOUNTS_PAYABLE,
}
