"""The sandbox's seed data: a small company's customers, products, vendors and purchase orders.

Plain data, so the AI training-data generator can reuse the same names the ERP holds.
"""

from typing import NamedTuple


class Product(NamedTuple):
    sku: str
    name: str
    unit_price: float
    stock: int
    lead_time_days: int


class Customer(NamedTuple):
    customer_id: str
    name: str
    credit_limit: float
    segment: str


class Vendor(NamedTuple):
    vendor_id: str
    name: str
    payment_terms_days: int


class PurchaseOrderLine(NamedTuple):
    sku: str
    quantity: int
    unit_price: float


class PurchaseOrder(NamedTuple):
    po_number: str
    vendor_id: str
    currency: str
    lines: tuple[PurchaseOrderLine, ...]
    received: tuple[int, ...]  # goods received per line so far


PRODUCTS: tuple[Product, ...] = (
    Product("WID-100", "Standard Widget", 12.50, 500, 5),
    Product("WID-200", "Heavy-Duty Widget", 24.00, 200, 7),
    Product("WID-300", "Stainless Widget", 39.90, 80, 10),
    Product("GAD-110", "Smart Gadget", 149.00, 60, 14),
    Product("GAD-120", "Gadget Mount Kit", 19.95, 300, 4),
    Product("SEN-210", "Temperature Sensor", 58.00, 150, 9),
    Product("SEN-220", "Pressure Sensor", 72.50, 90, 12),
    Product("SEN-230", "Humidity Sensor", 44.00, 120, 9),
    Product("VAL-310", "Ball Valve 1 inch", 31.00, 250, 6),
    Product("VAL-320", "Butterfly Valve 4 inch", 128.00, 40, 21),
    Product("PMP-410", "Centrifugal Pump", 890.00, 12, 30),
    Product("PMP-420", "Diaphragm Pump", 640.00, 18, 25),
    Product("MOT-510", "Servo Motor 400W", 315.00, 35, 18),
    Product("MOT-520", "Stepper Motor NEMA 23", 86.00, 140, 10),
    Product("CBL-610", "Shielded Cable 10m", 27.00, 600, 3),
    Product("CBL-620", "Ethernet Cable Cat6 5m", 8.90, 1200, 2),
    Product("CTL-710", "PLC Controller", 1250.00, 10, 35),
    Product("CTL-720", "HMI Touch Panel", 980.00, 14, 28),
    Product("BRG-810", "Ball Bearing 6204", 4.20, 2000, 3),
    Product("BRG-820", "Roller Bearing 22210", 96.00, 75, 15),
    Product("FLT-910", "Air Filter Cartridge", 15.50, 400, 5),
    Product("FLT-920", "Hydraulic Oil Filter", 22.80, 260, 6),
    Product("PAN-930", "Solar Panel 400W", 210.00, 50, 20),
    Product("BAT-940", "Lithium Battery Pack 48V", 1450.00, 8, 40),
)

CUSTOMERS: tuple[Customer, ...] = (
    Customer("C-1001", "Acme Manufacturing", 50_000, "enterprise"),
    Customer("C-1002", "Globex Industries", 120_000, "enterprise"),
    Customer("C-1003", "Initech Services", 15_000, "smb"),
    Customer("C-1004", "Umbrella Logistics", 80_000, "enterprise"),
    Customer("C-1005", "Stark Fabrication", 200_000, "strategic"),
    Customer("C-1006", "Wayne Utilities", 150_000, "strategic"),
    Customer("C-1007", "Hooli Robotics", 40_000, "mid-market"),
    Customer("C-1008", "Vandelay Imports", 8_000, "smb"),
    Customer("C-1009", "Soylent Foods", 25_000, "mid-market"),
    Customer("C-1010", "Cyberdyne Systems", 300_000, "strategic"),
    Customer("C-1011", "Tyrell Automation", 60_000, "mid-market"),
    Customer("C-1012", "Wonka Confectionery", 20_000, "smb"),
    Customer("C-1013", "Oscorp Chemicals", 90_000, "enterprise"),
    Customer("C-1014", "Pied Piper Storage", 5_000, "smb"),
    Customer("C-1015", "Massive Dynamic", 250_000, "strategic"),
    Customer("C-1016", "Gringotts Facilities", 45_000, "mid-market"),
    Customer("C-1017", "Monarch Packaging", 30_000, "mid-market"),
    Customer("C-1018", "Nakatomi Trading", 70_000, "enterprise"),
    Customer("C-1019", "Duff Brewing", 12_000, "smb"),
    Customer("C-1020", "Aperture Labs", 110_000, "enterprise"),
    Customer("C-1021", "Black Mesa Research", 95_000, "enterprise"),
    Customer("C-1022", "Dunder Paper Supply", 10_000, "smb"),
    Customer("C-1023", "Prestige Worldwide", 3_000, "smb"),
    Customer("C-1024", "Sirius Cybernetics", 180_000, "strategic"),
)

VENDORS: tuple[Vendor, ...] = (
    Vendor("V-201", "Northwind Components", 30),
    Vendor("V-202", "Contoso Metals", 45),
    Vendor("V-203", "Fabrikam Electronics", 30),
    Vendor("V-204", "Litware Hydraulics", 60),
    Vendor("V-205", "Proseware Cables", 15),
    Vendor("V-206", "Adventure Works Bearings", 30),
)

PURCHASE_ORDERS: tuple[PurchaseOrder, ...] = (
    PurchaseOrder(
        "PO-50001",
        "V-201",
        "EUR",
        (PurchaseOrderLine("WID-100", 400, 7.10), PurchaseOrderLine("GAD-120", 200, 11.00)),
        (400, 200),
    ),
    PurchaseOrder("PO-50002", "V-202", "EUR", (PurchaseOrderLine("WID-300", 100, 22.00),), (100,)),
    PurchaseOrder(
        "PO-50003",
        "V-203",
        "USD",
        (PurchaseOrderLine("SEN-210", 150, 31.00), PurchaseOrderLine("SEN-220", 80, 40.50)),
        (150, 60),
    ),
    PurchaseOrder("PO-50004", "V-204", "EUR", (PurchaseOrderLine("PMP-410", 10, 520.00),), (10,)),
    PurchaseOrder(
        "PO-50005",
        "V-205",
        "EUR",
        (PurchaseOrderLine("CBL-610", 500, 14.00), PurchaseOrderLine("CBL-620", 1000, 4.10)),
        (500, 1000),
    ),
    PurchaseOrder("PO-50006", "V-206", "USD", (PurchaseOrderLine("BRG-810", 5000, 1.90),), (5000,)),
    PurchaseOrder("PO-50007", "V-203", "USD", (PurchaseOrderLine("CTL-710", 20, 760.00),), (0,)),
    PurchaseOrder("PO-50008", "V-204", "EUR", (PurchaseOrderLine("VAL-320", 60, 70.00),), (60,)),
)
