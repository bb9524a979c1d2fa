"""The entity model the emulator stores: field names, types, relations and routes.

Names follow the platform's generated OpenAPI tables quoted in docs/reference/sparebank1.md (and the
"platform-api" entity pages it cites). Only the subset a Moment connector touches is modelled; a property the
model does not list is ignored on write (the platform's JSON binder drops unknown members [INF]) and a filter
on it is ignored (documented).

Relations are never returned unless ``expand`` names them ("None of these come back unless the query asks for
them"), except in the answer to a write, which echoes what was written (see ``store.render``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STR, INT, DEC, BOOL, DATE, DATETIME = "str", "int", "dec", "bool", "date", "datetime"

# Every entity carries these; the first five are never written by a client.
COMMON_FIELDS: dict[str, tuple[str, int | None]] = {
    "ID": (INT, None),
    "CreatedAt": (DATETIME, None),
    "CreatedBy": (STR, None),
    "UpdatedAt": (DATETIME, None),
    "UpdatedBy": (STR, None),
    "Deleted": (BOOL, None),
    "StatusCode": (INT, None),
}
SERVER_FIELDS = frozenset({"ID", "CreatedAt", "CreatedBy", "UpdatedAt", "UpdatedBy"})


@dataclass(frozen=True)
class Rel:
    """A navigation property.

    ``fk``: the foreign key on this entity (a "one" relation); ``back_fk``: the key on the target pointing
    back here ("many", or a reverse "one" such as Customer.Account). ``owned``: a nested object in a write
    is saved (created with ``_createguid`` / updated by ``ID``); otherwise the relation is read-only.
    ``stamp_back_fk``: for an owned "one" child, also set this key on the child (a BusinessRelation's
    DefaultEmail is one of its Emails).
    """

    target: str
    fk: str | None = None
    back_fk: str | None = None
    many: bool = False
    owned: bool = False
    stamp_back_fk: str | None = None


@dataclass
class EntityType:
    name: str
    route: str | None
    fields: dict[str, tuple[str, int | None]]
    relations: dict[str, Rel] = field(default_factory=dict)
    # Foreign keys checked on write: field -> target entity (a dangling one is the platform's 500).
    fks: dict[str, str] = field(default_factory=dict)
    # Client-sent values of these are ignored (state machines and computed sums own them).
    managed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.fields = {**COMMON_FIELDS, **self.fields}
        for rel in self.relations.values():
            if rel.fk and rel.fk not in self.fks:
                self.fks[rel.fk] = rel.target

    def writable(self, name: str) -> bool:
        return name in self.fields and name not in SERVER_FIELDS and name not in self.managed


def _s(n: int | None = None) -> tuple[str, int | None]:
    return (STR, n)


_I, _D, _B, _DATE = (INT, None), (DEC, None), (BOOL, None), (DATE, None)

ENTITIES: dict[str, EntityType] = {}


def _add(entity: EntityType) -> None:
    ENTITIES[entity.name] = entity


# unimicro-biz-swagger.json CompanySettings: the lock dates a posting's FinancialDate/VatDate is checked
# against (docs/reference/sparebank1.md §8). One row per company.
_add(
    EntityType(
        "CompanySettings",
        "companysettings",
        {"CompanyName": _s(255), "AccountingLockedDate": _DATE, "VatLockedDate": _DATE},
    )
)
_add(
    EntityType(
        "CurrencyCode",
        "currencycodes",
        {"Code": _s(10), "ShortCode": _s(10), "Name": _s(100)},
    )
)
_add(
    EntityType(
        "VatType",
        "vattypes",
        {
            "VatCode": _s(255),
            "Name": _s(255),
            "Alias": _s(255),
            # The rate of today; the rates by date are the VatTypePercentages (unimicro-biz-swagger.json:
            # VatTypePercentage {VatTypeID, VatPercent, ValidFrom, ValidTo}). Postings use the dated rate.
            "VatPercent": _D,
            "OutputVat": _B,
            "OutgoingAccountID": _I,
            "IncomingAccountID": _I,
            "VatCodeGroupingValue": _I,
            "Visible": _B,
            "Locked": _B,
        },
        relations={
            "OutgoingAccount": Rel("Account", fk="OutgoingAccountID"),
            "VatTypePercentages": Rel("VatTypePercentage", back_fk="VatTypeID", many=True),
        },
        fks={"IncomingAccountID": "Account"},
    )
)
_add(
    EntityType(
        "VatTypePercentage",
        None,  # no route of its own in the description: read through VatType's expand
        {"VatTypeID": _I, "VatPercent": _D, "ValidFrom": _DATE, "ValidTo": _DATE},
        fks={"VatTypeID": "VatType"},
    )
)
_add(
    EntityType(
        "Account",
        "accounts",
        {
            "AccountNumber": _I,
            "AccountName": _s(255),
            "Description": _s(255),
            "AccountID": _I,
            "CustomerID": _I,
            "SupplierID": _I,
            "EmployeeID": _I,
            "CurrencyCodeID": _I,
            "VatTypeID": _I,
            "DimensionsID": _I,
            "Active": _B,
            "Visible": _B,
            "Locked": _B,
            "LockManualPosts": _B,
            "SystemAccount": _B,
            "UsePostPost": _B,
        },
        relations={
            "VatType": Rel("VatType", fk="VatTypeID"),
            "Customer": Rel("Customer", fk="CustomerID"),
            "MainAccount": Rel("Account", fk="AccountID"),
        },
    )
)
_add(
    EntityType(
        "Dimensions",
        "dimensions",
        {
            "ProjectID": _I,
            "DepartmentID": _I,
            "ProjectTaskID": _I,
            "RegionID": _I,
            "ResponsibleID": _I,
            "Dimension5ID": _I,
            "Dimension6ID": _I,
        },
        relations={"Project": Rel("Project", fk="ProjectID")},
    )
)
_add(
    EntityType(
        "Address",
        None,
        {
            "AddressLine1": _s(255),
            "AddressLine2": _s(255),
            "AddressLine3": _s(255),
            "PostalCode": _s(100),
            "City": _s(100),
            "Country": _s(100),
            "CountryCode": _s(100),
            "Region": _s(100),
            "BusinessRelationID": _I,
        },
    )
)
_add(
    EntityType(
        "Email",
        None,
        {"EmailAddress": _s(255), "Type": _s(100), "Description": _s(255), "BusinessRelationID": _I},
    )
)
_add(
    EntityType(
        "Phone",
        None,
        {
            "Number": _s(100),
            "CountryCode": _s(100),
            "Type": _I,
            "Description": _s(255),
            "BusinessRelationID": _I,
        },
    )
)
_add(
    EntityType(
        "BusinessRelation",
        "business-relations",
        {
            "Name": _s(255),
            "DefaultEmailID": _I,
            "DefaultPhoneID": _I,
            "InvoiceAddressID": _I,
            "ShippingAddressID": _I,
            "DefaultContactID": _I,
            "DefaultBankAccountID": _I,
        },
        relations={
            "Addresses": Rel("Address", back_fk="BusinessRelationID", many=True, owned=True),
            "Emails": Rel("Email", back_fk="BusinessRelationID", many=True, owned=True),
            "Phones": Rel("Phone", back_fk="BusinessRelationID", many=True, owned=True),
            "DefaultEmail": Rel("Email", fk="DefaultEmailID", owned=True, stamp_back_fk="BusinessRelationID"),
            "DefaultPhone": Rel("Phone", fk="DefaultPhoneID", owned=True, stamp_back_fk="BusinessRelationID"),
            "InvoiceAddress": Rel(
                "Address", fk="InvoiceAddressID", owned=True, stamp_back_fk="BusinessRelationID"
            ),
            "ShippingAddress": Rel(
                "Address", fk="ShippingAddressID", owned=True, stamp_back_fk="BusinessRelationID"
            ),
        },
    )
)
_add(
    EntityType(
        "Customer",
        "customers",
        {
            "CustomerNumber": _I,
            "BusinessRelationID": _I,
            "OrgNumber": _s(100),
            "WebUrl": _s(255),
            "CurrencyCodeID": _I,
            "Localization": _s(10),
            "CreditDays": _I,
            "PaymentTermsID": _I,
            "DeliveryTermsID": _I,
            "DimensionsID": _I,
            "VatTypeID": _I,
            "IsPrivate": _B,
            "GLN": _s(13),
            "PeppolAddress": _s(50),
            "EInvoiceAgreementReference": _s(50),
            "EfakturaIdentifier": _s(100),
            "ReminderEmailAddress": _s(255),
            "CustomerNumberKidAlias": _s(255),
            "SubAccountNumberSeriesID": _I,
            "SocialSecurityNumber": _s(20),
            "DontSendReminders": _B,
            "DontUseFactoring": _B,
            "AvtaleGiro": _B,
        },
        relations={
            "Info": Rel("BusinessRelation", fk="BusinessRelationID", owned=True),
            "CurrencyCode": Rel("CurrencyCode", fk="CurrencyCodeID"),
            "Dimensions": Rel("Dimensions", fk="DimensionsID", owned=True),
            "VatType": Rel("VatType", fk="VatTypeID"),
            "Account": Rel("Account", back_fk="CustomerID"),
            "CustomerInvoices": Rel("CustomerInvoice", back_fk="CustomerID", many=True),
        },
        # Activate/deactivate are actions; a written StatusCode is ignored like on every state-machine entity.
        managed=frozenset({"StatusCode"}),
    )
)
_add(
    EntityType(
        "Project",
        "projects",
        {
            "Name": _s(255),
            "ProjectNumber": _s(255),
            "ProjectNumberNumeric": _I,
            "ProjectNumberSeriesID": _I,
            "Description": _s(500),
            "StartDate": _DATE,
            "EndDate": _DATE,
            "PlannedStartdate": _DATE,
            "PlannedEnddate": _DATE,
            "ProjectCustomerID": _I,
            "ProjectLeadName": _s(255),
            "ProjectApproverID": _I,
            "Price": _D,
            "CostPrice": _D,
            "Amount": _D,
            "Total": _D,
            "DimensionsID": _I,
            "WorkPlaceAddressID": _I,
            "Visible": _B,
        },
        relations={"ProjectCustomer": Rel("Customer", fk="ProjectCustomerID")},
        managed=frozenset({"StatusCode"}),
    )
)
_add(
    EntityType(
        "Product",
        "products",
        {
            "PartName": _s(100),
            "Name": _s(255),
            "PriceExVat": _D,
            "VatTypeID": _I,
            "AccountID": _I,
            "Unit": _s(100),
        },
        relations={"VatType": Rel("VatType", fk="VatTypeID"), "Account": Rel("Account", fk="AccountID")},
    )
)
_ITEM_SUMS = frozenset({"SumTotalExVat", "SumVat", "SumTotalIncVat", "PriceIncVat", "Discount"})
_add(
    EntityType(
        "CustomerInvoiceItem",
        "invoiceitems",
        {
            "CustomerInvoiceID": _I,
            "ProductID": _I,
            "ItemText": _s(255),
            "Comment": _s(500),
            "Unit": _s(100),
            "NumberOfItems": _D,
            "PriceExVat": _D,
            "PriceExVatCurrency": _D,
            "PriceIncVat": _D,
            "DiscountPercent": _D,
            "Discount": _D,
            "VatTypeID": _I,
            "VatPercent": _D,
            "AccountID": _I,
            "DimensionsID": _I,
            "SortIndex": _I,
            "SumTotalExVat": _D,
            "SumVat": _D,
            "SumTotalIncVat": _D,
        },
        relations={
            "Dimensions": Rel("Dimensions", fk="DimensionsID", owned=True),
            "Account": Rel("Account", fk="AccountID"),
            "VatType": Rel("VatType", fk="VatTypeID"),
            "Product": Rel("Product", fk="ProductID"),
        },
        managed=frozenset({"StatusCode", "CustomerInvoiceID"}) | _ITEM_SUMS,
    )
)
_INVOICE_SUMS = frozenset(
    {
        "TaxExclusiveAmount",
        "TaxExclusiveAmountCurrency",
        "TaxInclusiveAmount",
        "TaxInclusiveAmountCurrency",
        "VatTotalsAmount",
        "VatTotalsAmountCurrency",
        "RestAmount",
        "RestAmountCurrency",
        "CreditedAmount",
        "Credited",
        "JournalEntryID",
        "CreatedFromJournalEntry",
    }
)
_INVOICE_SUM_FIELDS: dict[str, tuple[str, int | None]] = {
    name: (DEC, None) for name in _INVOICE_SUMS if name.endswith(("Amount", "AmountCurrency"))
} | {"Credited": _B, "CreatedFromJournalEntry": _B, "JournalEntryID": _I}
_add(
    EntityType(
        "CustomerInvoice",
        "invoices",
        {
            "InvoiceNumber": _s(100),
            "InvoiceNumberSeriesID": _I,
            "InvoiceType": _I,
            "InvoiceReferenceID": _I,
            "PaymentID": _s(100),
            "PaymentInfoTypeID": _I,
            "CustomerID": _I,
            "CustomerName": _s(255),
            "CustomerOrgNumber": _s(100),
            "InvoiceDate": _DATE,
            "PaymentDueDate": _DATE,
            "DeliveryDate": _DATE,
            "CreditDays": _I,
            "CurrencyCodeID": _I,
            "CurrencyExchangeRate": _D,
            "OurReference": _s(255),
            "YourReference": _s(255),
            "Requisition": _s(255),
            "FreeTxt": _s(500),
            "Comment": _s(500),
            "InternalNote": _s(500),
            "EmailAddress": _s(255),
            "ExternalReference": _s(20),
            "InvoiceAddressLine1": _s(255),
            "InvoiceAddressLine2": _s(255),
            "InvoiceAddressLine3": _s(255),
            "InvoicePostalCode": _s(10),
            "InvoiceCity": _s(100),
            "InvoiceCountry": _s(100),
            "InvoiceCountryCode": _s(100),
            "BankAccountID": _I,
            "DefaultDimensionsID": _I,
            "DistributionPlanID": _I,
            **_INVOICE_SUM_FIELDS,
        },
        relations={
            "Items": Rel("CustomerInvoiceItem", back_fk="CustomerInvoiceID", many=True, owned=True),
            "DefaultDimensions": Rel("Dimensions", fk="DefaultDimensionsID", owned=True),
            # Not in the generated expand table, but the invoices guide posts a new customer nested here.
            "Customer": Rel("Customer", fk="CustomerID", owned=True),
            "CurrencyCode": Rel("CurrencyCode", fk="CurrencyCodeID"),
            "JournalEntry": Rel("JournalEntry", fk="JournalEntryID"),
        },
        fks={"InvoiceReferenceID": "CustomerInvoice"},
        managed=frozenset({"StatusCode"}) | _INVOICE_SUMS,
    )
)
_add(
    EntityType(
        "JournalEntry",
        "journalentries",
        {
            "JournalEntryNumber": _s(100),
            "JournalEntryNumberNumeric": _I,
            "NumberSeriesID": _I,
            "FinancialYearID": _I,
            "Description": _s(200),
            "ExternalReference": _s(None),
            "ExternalSource": _s(None),
            "IsExternal": _B,
        },
        relations={
            "Lines": Rel("JournalEntryLine", back_fk="JournalEntryID", many=True),
            "DraftLines": Rel("JournalEntryLineDraft", back_fk="JournalEntryID", many=True),
        },
    )
)
_LINE_FIELDS: dict[str, tuple[str, int | None]] = {
    "JournalEntryID": _I,
    "AccountID": _I,
    "SubAccountID": _I,
    "Amount": _D,
    "AmountCurrency": _D,
    "CurrencyCodeID": _I,
    "CurrencyExchangeRate": _D,
    "VatTypeID": _I,
    "VatPercent": _D,
    "TaxBasisAmount": _D,
    "VatDate": _DATE,
    "FinancialDate": _DATE,
    "DueDate": _DATE,
    "InvoiceNumber": _s(100),
    "PaymentID": _s(255),
    "PaymentInfoTypeID": _I,
    "CustomerInvoiceID": _I,
    "Description": _s(500),
    "DimensionsID": _I,
    "JournalEntryNumber": _s(100),
    "JournalEntryNumberNumeric": _I,
    "JournalEntryTypeID": _I,
    "RestAmount": _D,
    "ReferenceCreditPostID": _I,
    "OriginalReferencePostID": _I,
    "JournalEntryLineDraftID": _I,
}
_LINE_RELS = {
    "Dimensions": Rel("Dimensions", fk="DimensionsID", owned=True),
    "Account": Rel("Account", fk="AccountID"),
    "SubAccount": Rel("Account", fk="SubAccountID"),
    "VatType": Rel("VatType", fk="VatTypeID"),
    "JournalEntry": Rel("JournalEntry", fk="JournalEntryID"),
}
_add(
    EntityType(
        "JournalEntryLineDraft",
        "journalentrylinedrafts",
        dict(_LINE_FIELDS),
        relations=dict(_LINE_RELS),
        fks={"CustomerInvoiceID": "CustomerInvoice"},
    )
)
_add(
    EntityType(
        "JournalEntryLine",
        "journalentrylines",
        dict(_LINE_FIELDS),
        relations=dict(_LINE_RELS),
        fks={"CustomerInvoiceID": "CustomerInvoice"},
    )
)

ROUTES: dict[str, EntityType] = {e.route: e for e in ENTITIES.values() if e.route}

# Status codes (docs/reference/sparebank1.md §4.1, §5, §6.1; JournalEntryLine from the generated table).
CUSTOMER_ACTIVE, CUSTOMER_INACTIVE, CUSTOMER_DELETED = 30001, 50001, 90001
PROJECT_REGISTERED, PROJECT_OFFER, PROJECT_IN_PROGRESS, PROJECT_COMPLETED, PROJECT_DISCARDED = (
    42201,
    42202,
    42203,
    42204,
    42205,
)
INVOICE_DRAFT, INVOICE_INVOICED, INVOICE_PARTLY_PAID, INVOICE_PAID, INVOICE_SOLD, INVOICE_CREDITED = (
    42001,
    42002,
    42003,
    42004,
    42005,
    42006,
)
ITEM_DRAFT, ITEM_INVOICED = 41301, 41302
LINE_OPEN, LINE_CREDITED = 31001, 31004
INVOICE_TYPE_INVOICE, INVOICE_TYPE_CREDIT_NOTE = 0, 1
