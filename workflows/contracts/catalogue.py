"""The catalogue of process types: what the API offers and the CLI starts. Each entry is
declared beside its process's contracts; adding a process adds one line here."""

from workflows.contracts.invoices import INVOICE_PROCESSING
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.payables import PAYABLES_REVIEW
from workflows.contracts.processes import ProcessType
from workflows.contracts.service import CUSTOMER_SERVICE

PROCESS_TYPES: dict[str, ProcessType] = {
    ptype.name: ptype
    for ptype in (ORDER_FULFILLMENT, INVOICE_PROCESSING, PAYABLES_REVIEW, CUSTOMER_SERVICE)
}
