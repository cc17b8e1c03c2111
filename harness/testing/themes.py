"""The vocabulary of generated IVRs: a business, its hosts, what callers key in, and the
resources its APIs serve. Plain data; the generator picks from it.

Each theme names realistic resources of four shapes (a record looked up by id, a list
searched by a key, something created with a POST, something changed with a PATCH), so a
generated line reads like one a team would build: "enter your 7-digit patient number",
"the first available slot is Tuesday 9:30", "press 1 to book it".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["THEMES", "Input", "Resource", "Theme"]


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Input:
    """Something the caller keys in: a variable, its length, how it is spoken of."""

    variable: str  # also the path/query parameter's stem
    noun: str  # "patient number"
    collection: str = ""  # the resource it identifies, e.g. patients (main inputs only)
    digits: int  # the valid length (for a range guard: the most digits)
    low: int = 0  # a range guard's bounds (0, 0: not a number with a range)
    high: int = 0

    def __repr__(self) -> str:
        return f"<input {self.variable}>"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Resource:
    """One API resource: its path segment and the fields a flow reads from it."""

    plural: str  # path segment, e.g. "slots"
    singular: str  # e.g. "slot"
    label: str  # the field a prompt speaks, e.g. "starts_at"
    label_examples: tuple[str, ...]
    status_values: tuple[str, ...] = ("active", "pending", "closed")

    def __repr__(self) -> str:
        return f"<resource {self.plural}>"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Theme:
    name: str
    domain: str
    queue: str  # the agents' queue
    greeting: str
    hosts: tuple[str, ...]  # host name prefixes: "api" -> api.<domain>
    id_input: Input  # the caller's main identifier
    second_inputs: tuple[Input, ...]  # a second CollectDigits before a search
    records: tuple[Resource, ...]  # GET /v1/<plural>/{id}
    lists: tuple[Resource, ...]  # GET /v1/<plural>?<key>=
    creates: tuple[Resource, ...]  # POST /v1/<plural>
    updates: tuple[Resource, ...]  # PATCH /v1/<plural>/{id}

    def __repr__(self) -> str:
        return f"<theme {self.name}>"


def _r(plural: str, singular: str, label: str, *examples: str) -> Resource:
    return Resource(plural=plural, singular=singular, label=label, label_examples=examples)


THEMES: tuple[Theme, ...] = (
    Theme(
        name="clinic",
        domain="clinic-example.com",
        queue="front-desk",
        greeting="Thank you for calling Riverside Clinic.",
        hosts=("api", "billing", "records"),
        id_input=Input(
            variable="patient_id", collection="patients", noun="7-digit patient number", digits=7
        ),
        second_inputs=(
            Input(variable="zip_code", noun="5-digit zip code", digits=5),
            Input(variable="party_size", noun="number of people", digits=1, low=1, high=6),
        ),
        records=(
            _r("patients", "patient", "plan", "Gold Care", "Basic"),
            _r("referrals", "referral", "specialty", "cardiology", "dermatology"),
            _r("prescriptions", "prescription", "medication", "amoxicillin"),
        ),
        lists=(
            _r("slots", "slot", "starts_at", "Tuesday at 9:30", "Friday at 14:00"),
            _r("clinics", "clinic", "name", "Riverside North", "Old Town"),
            _r("reminders", "reminder", "due_on", "May 3rd"),
        ),
        creates=(
            _r("bookings", "booking", "reference", "BK-20931", "BK-11873"),
            _r("callbacks", "callback", "reference", "CB-4410"),
            _r("refills", "refill", "reference", "RF-0093"),
        ),
        updates=(
            _r("appointments", "appointment", "state", "cancelled", "moved"),
            _r("preferences", "preference", "state", "saved"),
        ),
    ),
    Theme(
        name="utility",
        domain="power-example.net",
        queue="customer-care",
        greeting="Welcome to Northern Power.",
        hosts=("api", "outages", "payments"),
        id_input=Input(
            variable="account_number",
            collection="accounts",
            noun="8-digit account number",
            digits=8,
        ),
        second_inputs=(
            Input(variable="zip_code", noun="5-digit zip code", digits=5),
            Input(variable="amount", noun="amount in dollars", digits=3, low=5, high=500),
        ),
        records=(
            _r("accounts", "account", "balance_due", "42.10", "0.00"),
            _r("meters", "meter", "last_reading", "10432"),
        ),
        lists=(
            _r("outages", "outage", "restore_eta", "6 pm today", "tomorrow morning"),
            _r("appointments", "appointment", "window", "Monday 8 to 12"),
            _r("invoices", "invoice", "due_on", "June 1st"),
        ),
        creates=(
            _r("payments", "payment", "reference", "PAY-778120"),
            _r("reports", "report", "reference", "OUT-55102"),
            _r("tickets", "ticket", "reference", "TCK-3021"),
        ),
        updates=(
            _r("plans", "plan", "state", "updated"),
            _r("contacts", "contact", "state", "saved"),
        ),
    ),
    Theme(
        name="retail",
        domain="shop-example.org",
        queue="orders-desk",
        greeting="Thanks for calling Harbor Outfitters.",
        hosts=("api", "orders", "loyalty"),
        id_input=Input(variable="order_number", collection="orders", noun="order number", digits=6),
        second_inputs=(
            Input(variable="zip_code", noun="5-digit zip code", digits=5),
            Input(variable="item_count", noun="number of items", digits=1, low=1, high=9),
        ),
        records=(
            _r("orders", "order", "status_text", "shipped", "out for delivery"),
            _r("members", "member", "tier", "silver", "gold"),
        ),
        lists=(
            _r("deliveries", "delivery", "eta", "Thursday", "tomorrow"),
            _r("stores", "store", "name", "Harbor Mall", "Downtown"),
            _r("returns", "return", "state_text", "received"),
        ),
        creates=(
            _r("returnlabels", "returnlabel", "reference", "RL-88213"),
            _r("claims", "claim", "reference", "CL-10042"),
        ),
        updates=(
            _r("shipments", "shipment", "state", "rerouted"),
            _r("subscriptions", "subscription", "state", "paused"),
        ),
    ),
    Theme(
        name="insurance",
        domain="insure-example.com",
        queue="claims-team",
        greeting="You have reached Summit Insurance.",
        hosts=("api", "claims", "docs"),
        id_input=Input(
            variable="policy_number",
            collection="policies",
            noun="10-digit policy number",
            digits=10,
        ),
        second_inputs=(
            Input(variable="claim_pin", noun="4-digit claim code", digits=4),
            Input(
                variable="days_ago", noun="how many days ago it happened", digits=2, low=1, high=30
            ),
        ),  # fmt: skip
        records=(
            _r("policies", "policy", "coverage", "comprehensive", "third party"),
            _r("adjusters", "adjuster", "name", "Dana Reyes"),
        ),
        lists=(
            _r("claims", "claim", "state_text", "under review", "approved"),
            _r("garages", "garage", "name", "Summit Motors"),
        ),
        creates=(
            _r("incidents", "incident", "reference", "INC-60031"),
            _r("documents", "document", "reference", "DOC-7781"),
        ),
        updates=(
            _r("addresses", "address", "state", "updated"),
            _r("renewals", "renewal", "state", "confirmed"),
        ),
    ),
)
