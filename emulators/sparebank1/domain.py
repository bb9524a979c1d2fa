"""Business rules: per-entity write hooks, transitions/actions, invoice sums, journal posting, seeds.

Amounts are ``Decimal`` kroner inside the emulator (the platform speaks decimal kroner; our connector converts
to/from integer øre at its edge). Rounding is ROUND_HALF_UP to 2 decimals, per line, then summed:

- invoice item: ``gross = NumberOfItems × PriceExVat``; ``Discount = round(gross × DiscountPercent / 100)``;
  ``SumTotalExVat = round(gross) − Discount``; ``SumVat = round(SumTotalExVat × VatPercent / 100)``;
  ``SumTotalIncVat = SumTotalExVat + SumVat``; ``PriceIncVat = round(PriceExVat × (1 + VatPercent / 100))``.
  ``VatPercent`` comes from the item's VAT type; without one, from its account's VAT type [INF].
- invoice header: ``TaxExclusiveAmount = Σ SumTotalExVat``, ``VatTotalsAmount = Σ SumVat``,
  ``TaxInclusiveAmount = Σ SumTotalIncVat`` (``*Currency`` = the same, the emulator is single-currency).
- journal draft line with an output VAT type: by default its ``Amount`` includes VAT (``net = round(Amount /
  (1 + p))``, VAT line = ``Amount − net`` on the VAT type's ``OutgoingAccountID``) [INF]; the entry must
  balance after VAT lines are generated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from emulators.sparebank1 import schema as S
from emulators.sparebank1.errors import BizError, Problem, invalid, message_error, validation_error
from emulators.sparebank1.store import Behaviour, Company, WriteContext, Writer, render

CENT = Decimal("0.01")
INT32_MAX = 2**31 - 1


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- seeds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VatSeed:
    code: str
    name: str
    percent: str
    outgoing_account: int | None = None
    output: bool = True


DEFAULT_CURRENCIES = [
    ("NOK", "Norsk krone"),
    ("SEK", "Svensk krone"),
    ("DKK", "Dansk krone"),
    ("EUR", "Euro"),
    ("USD", "Amerikanske dollar"),
    ("GBP", "Britisk pund"),
]
# SAF-T standard codes (what Moment's VAT codes are, docs/reference/moment.md §4.8).
# The seeded rates carry one dated VatTypePercentage each, valid from long before any test's dates.
SEEDED_RATES_VALID_FROM = "2000-01-01"
DEFAULT_VAT_TYPES = [
    VatSeed("0", "Ingen mva-behandling", "0", None, False),
    VatSeed("3", "Utgående mva, høy sats", "25", 2700),
    VatSeed("31", "Utgående mva, middels sats", "15", 2701),
    VatSeed("33", "Utgående mva, lav sats", "12", 2702),
    VatSeed("5", "Ingen utgående mva (innenlands omsetning fritatt)", "0"),
    VatSeed("6", "Omsetning utenfor merverdiavgiftsloven", "0"),
    VatSeed("52", "Utførsel av varer og tjenester", "0"),
]
# (number, name, SAF-T VAT code or None)
DEFAULT_ACCOUNTS = [
    (1500, "Kundefordringer", None),
    (1920, "Bankinnskudd", None),
    (2700, "Utgående merverdiavgift, høy sats", None),
    (2701, "Utgående merverdiavgift, middels sats", None),
    (2702, "Utgående merverdiavgift, lav sats", None),
    (3000, "Salgsinntekt, avgiftspliktig", "3"),
    (3100, "Salgsinntekt, avgiftsfri", "5"),
    (3200, "Salgsinntekt, utenfor avgiftsområdet", "6"),
    (4000, "Innkjøp av råvarer og halvfabrikata", None),
    (7740, "Øreavrunding", None),
]
RECEIVABLES_ACCOUNT = 1500


class Domain:
    def __init__(self, behaviour: Behaviour, clock: Callable[[], str], today: Callable[[], date]) -> None:
        self.behaviour = behaviour
        self.clock = clock
        self.today = today
        self.writer = Writer(
            behaviour,
            {
                "Customer": self._customer_hook,
                "Project": self._project_hook,
                "CustomerInvoice": self._invoice_hook,
                "CustomerInvoiceItem": self._item_hook,
                "Account": self._account_hook,
            },
            clock,
        )

    # -- seeds -------------------------------------------------------------------------------------

    def seed_currency(self, company: Company, code: str, name: str) -> dict[str, Any]:
        return company.insert("CurrencyCode", {"Code": code, "ShortCode": code, "Name": name}, self.clock())

    def seed_account(
        self, company: Company, number: int, name: str, vat_code: str | None = None
    ) -> dict[str, Any]:
        vat = self.find(company, "VatType", "VatCode", vat_code) if vat_code else None
        return company.insert(
            "Account",
            {
                "AccountNumber": number,
                "AccountName": name,
                "VatTypeID": vat["ID"] if vat else None,
                "Active": True,
                "Visible": True,
                "UsePostPost": number == RECEIVABLES_ACCOUNT,
            },
            self.clock(),
        )

    def seed_vat_type(
        self,
        company: Company,
        code: str,
        name: str,
        percent: Decimal | str,
        outgoing_account: int | None,
        output: bool = True,
    ) -> dict[str, Any]:
        account = (
            self.find(company, "Account", "AccountNumber", outgoing_account) if outgoing_account else None
        )
        vat_type = company.insert(
            "VatType",
            {
                "VatCode": code,
                "Name": name,
                "VatPercent": Decimal(str(percent)),
                "OutputVat": output,
                "OutgoingAccountID": account["ID"] if account else None,
                "Visible": True,
                "Locked": False,
            },
            self.clock(),
        )
        company.insert(
            "VatTypePercentage",
            {
                "VatTypeID": vat_type["ID"],
                "VatPercent": Decimal(str(percent)),
                "ValidFrom": SEEDED_RATES_VALID_FROM,
                "ValidTo": None,
            },
            self.clock(),
        )
        return vat_type

    def set_vat_rate(self, company: Company, code: str, percent: Decimal | str, valid_from: str) -> None:
        """A new rate from ``valid_from`` (a published VAT change): the current one ends the day before."""
        vat_type = self.find(company, "VatType", "VatCode", code)
        assert vat_type is not None, f"no VAT code {code}"
        day_before = (date.fromisoformat(valid_from) - timedelta(days=1)).isoformat()
        for rate in self._rates(company, vat_type["ID"]):
            if rate.get("ValidTo") is None or str(rate["ValidTo"]) >= valid_from:
                rate["ValidTo"] = day_before
        company.insert(
            "VatTypePercentage",
            {"VatTypeID": vat_type["ID"], "VatPercent": Decimal(str(percent)), "ValidFrom": valid_from},
            self.clock(),
        )
        vat_type["VatPercent"] = self.vat_percent(company, vat_type, self.today().isoformat())

    def _rates(self, company: Company, vat_type_id: int) -> list[dict[str, Any]]:
        return [r for r in company.rows("VatTypePercentage") if r.get("VatTypeID") == vat_type_id]

    def _dated_percent(self, company: Company, vat_type_id: int | None, on: Any) -> Decimal | None:
        vat_type = company.get("VatType", vat_type_id) if vat_type_id else None
        return self.vat_percent(company, vat_type, str(on)[:10]) if vat_type else None

    def vat_percent(self, company: Company, vat_type: dict[str, Any], on: str) -> Decimal:
        """The rate valid on ``on`` (VatTypePercentages by ValidFrom/ValidTo); VatPercent if none is dated."""
        for rate in self._rates(company, vat_type["ID"]):
            starts, ends = str(rate.get("ValidFrom") or "")[:10], str(rate.get("ValidTo") or "")[:10]
            if (not starts or starts <= on) and (not ends or on <= ends):
                return Decimal(str(rate["VatPercent"]))
        return Decimal(str(vat_type.get("VatPercent") or 0))

    def seed_defaults(self, company: Company) -> None:
        company.insert(
            "CompanySettings",
            {"CompanyName": company.name, "AccountingLockedDate": None, "VatLockedDate": None},
            self.clock(),
        )
        for code, name in DEFAULT_CURRENCIES:
            self.seed_currency(company, code, name)
        for number, name, _ in DEFAULT_ACCOUNTS:
            self.seed_account(company, number, name)
        for seed in DEFAULT_VAT_TYPES:
            self.seed_vat_type(
                company, seed.code, seed.name, seed.percent, seed.outgoing_account, seed.output
            )
        for number, _, vat_code in DEFAULT_ACCOUNTS:
            if vat_code:
                account = self.find(company, "Account", "AccountNumber", number)
                account["VatTypeID"] = self.find(company, "VatType", "VatCode", vat_code)["ID"]

    @staticmethod
    def find(company: Company, entity: str, name: str, value: Any) -> dict[str, Any] | None:
        return next((r for r in company.rows(entity) if r.get(name) == value), None)

    # -- write hooks -------------------------------------------------------------------------------

    def _customer_hook(
        self, company: Company, record: dict[str, Any], payload: dict[str, Any], ctx: WriteContext
    ) -> None:
        if record.get("StatusCode") is None:
            record["StatusCode"] = S.CUSTOMER_ACTIVE
        info = company.get("BusinessRelation", record.get("BusinessRelationID"))
        name = info.get("Name") if info else None
        if not name and not record.get("OrgNumber"):
            ctx.problems.append(Problem("Customer", "Info.Name", "Customer needs Info.Name or OrgNumber"))
        number = record.get("CustomerNumber")
        if number is None:
            number = self._next_free(company, "customer", 100000, "Customer", "CustomerNumber")
            record["CustomerNumber"] = number
        low_high = self.behaviour.customer_number_range
        if low_high and not low_high[0] <= number <= low_high[1]:
            ctx.problems.append(
                Problem(
                    "Customer",
                    "CustomerNumber",
                    f"CustomerNumber {number} is outside the customer number series "
                    f"{low_high[0]}-{low_high[1]}",
                )
            )
        if any(
            r["ID"] != record["ID"] and r.get("CustomerNumber") == number for r in company.rows("Customer")
        ):
            ctx.problems.append(
                Problem("Customer", "CustomerNumber", f"CustomerNumber {number} is already in use")
            )
        self._sync_customer_account(company, record, name)

    def _sync_customer_account(self, company: Company, customer: dict[str, Any], name: str | None) -> None:
        """Every customer owns a sub-ledger account numbered like it (journal lines book on it)."""
        account = self.find(company, "Account", "CustomerID", customer["ID"])
        main = self.find(company, "Account", "AccountNumber", RECEIVABLES_ACCOUNT)
        values = {
            "AccountNumber": customer["CustomerNumber"],
            "AccountName": name or customer.get("OrgNumber"),
            "CustomerID": customer["ID"],
            "AccountID": main["ID"] if main else None,
            "Active": True,
            "Visible": True,
        }
        if account is None:
            company.insert("Account", values, self.clock())
        else:
            account.update(values)

    def _project_hook(
        self, company: Company, record: dict[str, Any], payload: dict[str, Any], ctx: WriteContext
    ) -> None:
        if record.get("StatusCode") is None:
            record["StatusCode"] = S.PROJECT_REGISTERED
        if not record.get("Name"):
            ctx.problems.append(Problem("Project", "Name", "Name is required"))
        if not record.get("ProjectNumber"):
            numeric = self._next_free(company, "project", 1, "Project", "ProjectNumberNumeric")
            record["ProjectNumber"] = str(numeric)
            record["ProjectNumberNumeric"] = numeric
        elif record.get("ProjectNumberNumeric") is None and re.fullmatch(r"\d{1,9}", record["ProjectNumber"]):
            # [INF] the numeric twin follows a numeric ProjectNumber when not sent.
            record["ProjectNumberNumeric"] = int(record["ProjectNumber"])
        number = record["ProjectNumber"]
        if any(
            r["ID"] != record["ID"] and (r.get("ProjectNumber") or "").casefold() == number.casefold()
            for r in company.rows("Project")
        ):
            ctx.problems.append(
                Problem("Project", "ProjectNumber", f"ProjectNumber {number} is already in use")
            )

    def _account_hook(
        self, company: Company, record: dict[str, Any], payload: dict[str, Any], ctx: WriteContext
    ) -> None:
        if record.get("AccountNumber") is None:
            ctx.problems.append(Problem("Account", "AccountNumber", "AccountNumber is required"))

    def _item_hook(
        self, company: Company, record: dict[str, Any], payload: dict[str, Any], ctx: WriteContext
    ) -> None:
        if record.get("StatusCode") is None:
            record["StatusCode"] = S.ITEM_DRAFT

    def _invoice_hook(
        self, company: Company, record: dict[str, Any], payload: dict[str, Any], ctx: WriteContext
    ) -> None:
        if record.get("StatusCode") is None:
            record["StatusCode"] = S.INVOICE_DRAFT
        elif record["StatusCode"] != S.INVOICE_DRAFT:
            raise invalid("CustomerInvoice", "StatusCode", "Only draft invoices can be changed", payload)
        if record.get("InvoiceType") is None:
            record["InvoiceType"] = S.INVOICE_TYPE_INVOICE
        if record.get("InvoiceType") not in (S.INVOICE_TYPE_INVOICE, S.INVOICE_TYPE_CREDIT_NOTE):
            ctx.problems.append(Problem("CustomerInvoice", "InvoiceType", "InvoiceType must be 0 or 1"))
        customer = company.get("Customer", record.get("CustomerID"))
        if customer:
            info = company.get("BusinessRelation", customer.get("BusinessRelationID"))
            if not record.get("CustomerName") and info:
                record["CustomerName"] = info.get("Name")
            if not record.get("CustomerOrgNumber"):
                record["CustomerOrgNumber"] = customer.get("OrgNumber")
        self.compute_invoice_sums(company, record)

    def _next_free(self, company: Company, series: str, start: int, entity: str, field: str) -> int:
        taken = {r.get(field) for r in company.rows(entity)}
        value = max(company.counters.get(series, start), start)
        while value in taken:
            value += 1
        company.counters[series] = value + 1
        return value

    # -- sums --------------------------------------------------------------------------------------

    def items_of(self, company: Company, invoice: dict[str, Any]) -> list[dict[str, Any]]:
        items = [
            i for i in company.rows("CustomerInvoiceItem") if i.get("CustomerInvoiceID") == invoice["ID"]
        ]
        return sorted(items, key=lambda i: (i.get("SortIndex") or 0, i["ID"]))

    def compute_invoice_sums(self, company: Company, invoice: dict[str, Any]) -> None:
        ex = vat = Decimal("0")
        for item in self.items_of(company, invoice):
            if item.get("VatTypeID") is None and item.get("AccountID") is not None:
                account = company.get("Account", item["AccountID"])
                item["VatTypeID"] = account.get("VatTypeID") if account else None
            vat_type = company.get("VatType", item.get("VatTypeID"))
            percent = vat_type["VatPercent"] if vat_type else (item.get("VatPercent") or Decimal("0"))
            price = item.get("PriceExVat")
            if price is None:
                price = item.get("PriceExVatCurrency") or Decimal("0")
            quantity = item.get("NumberOfItems")
            quantity = Decimal("1") if quantity is None else quantity
            gross = q2(quantity * price)
            discount = q2(quantity * price * (item.get("DiscountPercent") or Decimal("0")) / 100)
            item["PriceExVat"] = item["PriceExVatCurrency"] = price
            item["NumberOfItems"] = quantity
            item["VatPercent"] = percent
            item["Discount"] = discount
            item["SumTotalExVat"] = gross - discount
            item["SumVat"] = q2(item["SumTotalExVat"] * percent / 100)
            item["SumTotalIncVat"] = item["SumTotalExVat"] + item["SumVat"]
            item["PriceIncVat"] = q2(price * (1 + percent / 100))
            ex += item["SumTotalExVat"]
            vat += item["SumVat"]
        invoice["TaxExclusiveAmount"] = invoice["TaxExclusiveAmountCurrency"] = ex
        invoice["VatTotalsAmount"] = invoice["VatTotalsAmountCurrency"] = vat
        invoice["TaxInclusiveAmount"] = invoice["TaxInclusiveAmountCurrency"] = ex + vat
        if invoice.get("StatusCode") == S.INVOICE_DRAFT:
            invoice["RestAmount"] = invoice["RestAmountCurrency"] = Decimal("0")

    # -- transitions and actions -------------------------------------------------------------------

    PROJECT_TRANSITIONS = {
        # action: (allowed from, to) [INF: the state graph is not public; see README]
        "initiateproject": ({S.PROJECT_REGISTERED}, S.PROJECT_OFFER),
        "startproject": ({S.PROJECT_REGISTERED, S.PROJECT_OFFER}, S.PROJECT_IN_PROGRESS),
        "completeproject": ({S.PROJECT_IN_PROGRESS}, S.PROJECT_COMPLETED),
        "discardproject": (
            {S.PROJECT_REGISTERED, S.PROJECT_OFFER, S.PROJECT_IN_PROGRESS},
            S.PROJECT_DISCARDED,
        ),
        "reactivateproject": ({S.PROJECT_COMPLETED, S.PROJECT_DISCARDED}, S.PROJECT_IN_PROGRESS),
    }

    def project_transition(self, company: Company, project: dict[str, Any], action: str) -> None:
        allowed_from, target = self.PROJECT_TRANSITIONS[action.lower()]
        if project["StatusCode"] not in allowed_from:
            raise message_error(
                400,
                f"Transition {action} is not allowed for Project {project['ID']} in status "
                f"{project['StatusCode']}",
            )
        project["StatusCode"] = target
        project["UpdatedAt"] = self.clock()

    def set_customer_status(self, company: Company, customer: dict[str, Any], action: str) -> None:
        customer["StatusCode"] = S.CUSTOMER_ACTIVE if action == "activate" else S.CUSTOMER_INACTIVE
        customer["UpdatedAt"] = self.clock()

    def invoice_transition(self, company: Company, invoice: dict[str, Any]) -> None:
        """Draft → Invoiced: number it, post its journal entry, update a credited original."""
        if invoice["StatusCode"] != S.INVOICE_DRAFT:
            raise message_error(
                400,
                f"Transition invoice is not allowed for CustomerInvoice {invoice['ID']} in status "
                f"{invoice['StatusCode']}",
            )
        problems: list[Problem] = []
        customer = company.get("Customer", invoice.get("CustomerID"))
        if customer is None:
            problems.append(Problem("CustomerInvoice", "CustomerID", "The invoice has no customer"))
        items = self.items_of(company, invoice)
        if not items:
            problems.append(Problem("CustomerInvoice", "Items", "The invoice has no items"))
        for item in items:
            if item.get("AccountID") is None:
                product = company.get("Product", item.get("ProductID"))
                item["AccountID"] = product.get("AccountID") if product else None
            if item.get("AccountID") is None:
                problems.append(
                    Problem("CustomerInvoiceItem", "AccountID", f"Item {item['ID']} has no sales account")
                )
        if problems:
            raise validation_error(problems)
        self.compute_invoice_sums(company, invoice)
        credit = invoice.get("InvoiceType") == S.INVOICE_TYPE_CREDIT_NOTE
        if not (self.behaviour.keep_client_invoice_number and invoice.get("InvoiceNumber")):
            number = self._next_free_text(company, "invoice", 1, "CustomerInvoice", "InvoiceNumber")
            invoice["InvoiceNumber"] = str(number)
        if any(
            r["ID"] != invoice["ID"]
            and r.get("InvoiceNumber") == invoice["InvoiceNumber"]
            and r["StatusCode"] != S.INVOICE_DRAFT
            for r in company.rows("CustomerInvoice")
        ):
            raise invalid(
                "CustomerInvoice",
                "InvoiceNumber",
                f"InvoiceNumber {invoice['InvoiceNumber']} is already in use",
            )
        invoice_date = invoice.get("InvoiceDate") or self.today().isoformat()
        invoice["InvoiceDate"] = invoice_date
        if not invoice.get("PaymentDueDate"):
            days = invoice.get("CreditDays") or (customer or {}).get("CreditDays") or 14
            invoice["PaymentDueDate"] = (date.fromisoformat(invoice_date) + timedelta(days=days)).isoformat()
        account = self.find(company, "Account", "CustomerID", customer["ID"])
        lines = [
            PostingSpec(
                account_id=account["ID"],
                net=invoice["TaxInclusiveAmount"],
                vat=Decimal("0"),
                vat_type_id=None,
                dimensions_id=invoice.get("DefaultDimensionsID"),
                is_receivable=True,
            )
        ]
        for item in items:
            lines.append(
                PostingSpec(
                    account_id=item["AccountID"],
                    net=-item["SumTotalExVat"],
                    vat=-item["SumVat"],
                    vat_type_id=item.get("VatTypeID"),
                    dimensions_id=item.get("DimensionsID") or invoice.get("DefaultDimensionsID"),
                    description=item.get("ItemText"),
                )
            )
        entry = self.post_entry(
            company,
            lines,
            financial_date=invoice_date,
            number=None,
            common={
                "InvoiceNumber": invoice["InvoiceNumber"],
                "PaymentID": invoice.get("PaymentID"),
                "DueDate": invoice["PaymentDueDate"],
            },
            customer_invoice_id=invoice["ID"],
            description=f"{'Kreditnota' if credit else 'Faktura'} {invoice['InvoiceNumber']}",
        )
        invoice["JournalEntryID"] = entry["ID"]
        invoice["StatusCode"] = S.INVOICE_INVOICED
        invoice["RestAmount"] = invoice["RestAmountCurrency"] = invoice["TaxInclusiveAmount"]
        for item in items:
            item["StatusCode"] = S.ITEM_INVOICED
        original = company.get("CustomerInvoice", invoice.get("InvoiceReferenceID"))
        if credit and original is not None:
            credited = (original.get("CreditedAmount") or Decimal("0")) - invoice["TaxInclusiveAmount"]
            original["CreditedAmount"] = credited
            original["RestAmount"] = original["RestAmountCurrency"] = (
                original["TaxInclusiveAmount"] - credited
            )
            if credited >= original["TaxInclusiveAmount"]:
                original["StatusCode"] = S.INVOICE_CREDITED
                original["Credited"] = True

    def create_credit_draft(self, company: Company, original: dict[str, Any]) -> dict[str, Any]:
        if (
            original["StatusCode"] in (S.INVOICE_DRAFT, S.INVOICE_CREDITED)
            or original.get("InvoiceType") == 1
        ):
            raise message_error(400, f"CustomerInvoice {original['ID']} cannot be credited in its status")
        now = self.clock()
        copied = {
            k: original.get(k)
            for k in (
                "CustomerID",
                "CustomerName",
                "CustomerOrgNumber",
                "CurrencyCodeID",
                "PaymentID",
                "OurReference",
                "YourReference",
                "DefaultDimensionsID",
                "InvoiceAddressLine1",
                "InvoicePostalCode",
                "InvoiceCity",
                "InvoiceCountryCode",
            )
        }
        draft = company.insert(
            "CustomerInvoice",
            {
                **copied,
                "InvoiceType": S.INVOICE_TYPE_CREDIT_NOTE,
                "InvoiceReferenceID": original["ID"],
                "StatusCode": S.INVOICE_DRAFT,
            },
            now,
        )
        for item in self.items_of(company, original):
            values = {k: v for k, v in item.items() if k not in S.COMMON_FIELDS}
            values.update(
                CustomerInvoiceID=draft["ID"],
                NumberOfItems=-(item.get("NumberOfItems") or Decimal("0")),
                StatusCode=S.ITEM_DRAFT,
            )
            company.insert("CustomerInvoiceItem", values, now)
        self.compute_invoice_sums(company, draft)
        return draft

    def _next_free_text(self, company: Company, series: str, start: int, entity: str, field: str) -> int:
        taken = {r.get(field) for r in company.rows(entity)}
        value = max(company.counters.get(series, start), start)
        while str(value) in taken:
            value += 1
        company.counters[series] = value + 1
        return value

    # -- journal entries ---------------------------------------------------------------------------

    def book_journal_entries(
        self, company: Company, payload: Any, *, create_invoices: bool = False, generate_kid: bool = False
    ) -> list[dict[str, Any]]:
        entries = payload if isinstance(payload, list) else [payload]
        if not entries or not all(isinstance(e, dict) for e in entries):
            raise invalid("JournalEntry", "", "Expected an array of JournalEntry objects", None)
        booked = []
        for index, entry in enumerate(entries):
            booked.append(self._book_one(company, entry, index, create_invoices, generate_kid))
        return booked

    @staticmethod
    def _locks(company: Company, draft: dict[str, Any], where: str) -> list[Problem]:
        """The platform refuses postings into a locked period or onto a locked account."""
        problems = []
        settings = next(iter(company.rows("CompanySettings")), None) or {}
        for date_field, lock_field in (
            ("FinancialDate", "AccountingLockedDate"),
            ("VatDate", "VatLockedDate"),
        ):
            posted, locked = draft.get(date_field), settings.get(lock_field)
            if posted and locked and str(posted)[:10] <= str(locked)[:10]:
                problems.append(
                    Problem(
                        "JournalEntryLineDraft",
                        date_field,
                        f"{where}: {date_field} {str(posted)[:10]} is in a locked period "
                        f"({lock_field} {locked})",
                    )
                )
        account = company.get("Account", draft.get("AccountID")) or {}
        if account.get("Locked") or account.get("LockManualPosts"):
            problems.append(
                Problem(
                    "JournalEntryLineDraft",
                    "AccountID",
                    f"{where}: account {account.get('AccountNumber')} is locked",
                )
            )
        return problems

    def _book_one(
        self, company: Company, entry: dict[str, Any], index: int, create_invoices: bool, generate_kid: bool
    ) -> dict[str, Any]:
        drafts_in = entry.get("DraftLines")
        if not isinstance(drafts_in, list) or not drafts_in:
            raise invalid("JournalEntry", "DraftLines", f"JournalEntry {index} has no DraftLines", entry)
        ctx = WriteContext(is_update=False)
        drafts = [
            self.writer.save(company, "JournalEntryLineDraft", d, None, ctx, top=True) for d in drafts_in
        ]
        problems: list[Problem] = []
        for position, draft in enumerate(drafts):
            where = f"DraftLines[{position}]"
            if not draft.get("FinancialDate"):
                problems.append(
                    Problem("JournalEntryLineDraft", "FinancialDate", f"{where}: FinancialDate is required")
                )
            if draft.get("AccountID") is None:
                problems.append(
                    Problem("JournalEntryLineDraft", "AccountID", f"{where}: AccountID is required")
                )
            problems += self._locks(company, draft, where)
            if draft.get("Amount") is None:
                draft["Amount"] = draft.get("AmountCurrency")
            if not draft.get("Amount"):
                problems.append(Problem("JournalEntryLineDraft", "Amount", f"{where}: Amount must not be 0"))
        if problems:
            raise validation_error(problems, entry)
        specs = []
        for draft in drafts:
            vat_type = company.get("VatType", draft.get("VatTypeID"))
            percent = (
                self.vat_percent(company, vat_type, str(draft["FinancialDate"])[:10])
                if vat_type and vat_type.get("OutgoingAccountID")
                else Decimal("0")
            )
            amount = draft["Amount"]
            if percent and self.behaviour.draft_line_amounts_include_vat:
                net = q2(amount / (1 + percent / 100))
                vat = amount - net
            else:
                net, vat = amount, q2(amount * percent / 100)
            account = company.get("Account", draft["AccountID"])
            specs.append(
                PostingSpec(
                    account_id=draft["AccountID"],
                    net=net,
                    vat=vat,
                    vat_type_id=draft.get("VatTypeID"),
                    dimensions_id=draft.get("DimensionsID"),
                    description=draft.get("Description"),
                    draft=draft,
                    is_receivable=bool(account and account.get("CustomerID")),
                )
            )
        number = entry.get("JournalEntryNumber") or next(
            (d.get("JournalEntryNumber") for d in drafts if d.get("JournalEntryNumber")), None
        )
        if not self.behaviour.honour_client_journal_entry_number:
            number = None
        posted = self.post_entry(
            company,
            specs,
            financial_date=drafts[0]["FinancialDate"],
            number=number,
            common={},
            customer_invoice_id=None,
            description=entry.get("Description"),
            external=(entry.get("ExternalReference"), entry.get("ExternalSource")),
        )
        for draft in drafts:
            draft["JournalEntryID"] = posted["ID"]
            draft["JournalEntryNumber"] = posted["JournalEntryNumber"]
        if create_invoices:
            self._invoice_from_entry(company, posted, generate_kid)
        return posted

    def post_entry(
        self,
        company: Company,
        specs: list[PostingSpec],
        *,
        financial_date: str,
        number: str | None,
        common: dict[str, Any],
        customer_invoice_id: int | None,
        description: str | None,
        external: tuple[str | None, str | None] = (None, None),
    ) -> dict[str, Any]:
        year = int(financial_date[:4])
        if number:
            number = str(number) if "-" in str(number) else f"{number}-{year}"
        else:
            number = self.next_journal_number(company, year)
        leading = re.match(r"\d+", number)
        numeric = int(leading.group()) if leading else None
        if numeric is not None and numeric > INT32_MAX:
            raise invalid(
                "JournalEntry",
                "JournalEntryNumberNumeric",
                f"JournalEntryNumber {number} does not fit JournalEntryNumberNumeric (int32)",
            )
        if self.find(company, "JournalEntry", "JournalEntryNumber", number):
            raise invalid(
                "JournalEntry", "JournalEntryNumber", f"JournalEntryNumber {number} is already in use"
            )
        total = sum((s.net + s.vat for s in specs), Decimal("0"))
        if total != 0:
            raise invalid(
                "JournalEntry", "DraftLines", f"The journal entry is not balanced (difference {total})"
            )
        now = self.clock()
        entry = company.insert(
            "JournalEntry",
            {
                "JournalEntryNumber": number,
                "JournalEntryNumberNumeric": numeric,
                "Description": description,
                "ExternalReference": external[0],
                "ExternalSource": external[1],
            },
            now,
        )
        nok = self.find(company, "CurrencyCode", "Code", "NOK")
        for spec in specs:
            draft = spec.draft or {}
            account = company.get("Account", spec.account_id)
            sub_ledger = bool(account and (account.get("CustomerID") or account.get("SupplierID")))
            base = {
                "JournalEntryID": entry["ID"],
                "JournalEntryNumber": number,
                "JournalEntryNumberNumeric": numeric,
                "FinancialDate": draft.get("FinancialDate") or financial_date,
                "VatDate": draft.get("VatDate") or draft.get("FinancialDate") or financial_date,
                "DueDate": draft.get("DueDate"),
                "InvoiceNumber": draft.get("InvoiceNumber"),
                "PaymentID": draft.get("PaymentID"),
                "PaymentInfoTypeID": draft.get("PaymentInfoTypeID"),
                "CustomerInvoiceID": draft.get("CustomerInvoiceID"),
                "CurrencyCodeID": nok["ID"] if nok else None,
                "CurrencyExchangeRate": Decimal("1"),
                "StatusCode": S.LINE_OPEN,
                "JournalEntryLineDraftID": draft.get("ID"),
                **{k: v for k, v in common.items() if v is not None},
            }
            if spec.is_receivable and customer_invoice_id:
                base["CustomerInvoiceID"] = customer_invoice_id
            company.insert(
                "JournalEntryLine",
                {
                    **base,
                    # A sub-ledger account posts on its main account with the sub-account beside it.
                    "AccountID": account["AccountID"]
                    if sub_ledger and account.get("AccountID")
                    else spec.account_id,
                    "SubAccountID": spec.account_id if sub_ledger else None,
                    "Amount": spec.net,
                    "AmountCurrency": spec.net,
                    "RestAmount": spec.net,
                    "VatTypeID": spec.vat_type_id,
                    "VatPercent": self._dated_percent(company, spec.vat_type_id, base["FinancialDate"]),
                    "DimensionsID": spec.dimensions_id,
                    "Description": spec.description or description,
                },
                now,
            )
            if spec.vat:
                vat_type = company.get("VatType", spec.vat_type_id)
                company.insert(
                    "JournalEntryLine",
                    {
                        **base,
                        "AccountID": vat_type["OutgoingAccountID"],
                        "Amount": spec.vat,
                        "AmountCurrency": spec.vat,
                        "RestAmount": spec.vat,
                        "TaxBasisAmount": spec.net,
                        "VatTypeID": spec.vat_type_id,
                        "VatPercent": self._dated_percent(company, spec.vat_type_id, base["FinancialDate"]),
                        "DimensionsID": spec.dimensions_id,
                        "Description": f"MVA {vat_type['VatCode']} "
                        f"({self._dated_percent(company, spec.vat_type_id, base['FinancialDate'])} %)",
                    },
                    now,
                )
        return entry

    def next_journal_number(self, company: Company, year: int) -> str:
        """The platform's voucher series: "N-YYYY", N counting per financial year."""
        taken = {r.get("JournalEntryNumber") for r in company.rows("JournalEntry")}
        value = company.counters.get(f"journal-{year}", 1)
        while f"{value}-{year}" in taken:
            value += 1
        company.counters[f"journal-{year}"] = value + 1
        return f"{value}-{year}"

    def lines_of(self, company: Company, entry: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            line for line in company.rows("JournalEntryLine") if line.get("JournalEntryID") == entry["ID"]
        ]

    def _invoice_from_entry(self, company: Company, entry: dict[str, Any], generate_kid: bool) -> None:
        lines = self.lines_of(company, entry)
        receivable = next((line for line in lines if line.get("SubAccountID")), None)
        if receivable is None:
            raise invalid("JournalEntry", "DraftLines", "No line is booked on a customer account")
        sub = company.get("Account", receivable["SubAccountID"])
        vat = sum((line["Amount"] for line in lines if line.get("TaxBasisAmount") is not None), Decimal("0"))
        total = receivable["Amount"]
        number = receivable.get("InvoiceNumber") or str(
            self._next_free_text(company, "invoice", 1, "CustomerInvoice", "InvoiceNumber")
        )
        kid = receivable.get("PaymentID") or (mod10_kid(number) if generate_kid else None)
        invoice = company.insert(
            "CustomerInvoice",
            {
                "CustomerID": sub.get("CustomerID"),
                "CustomerName": sub.get("AccountName"),
                "InvoiceNumber": number,
                "PaymentID": kid,
                "InvoiceType": S.INVOICE_TYPE_CREDIT_NOTE if total < 0 else S.INVOICE_TYPE_INVOICE,
                "InvoiceDate": receivable["FinancialDate"],
                "PaymentDueDate": receivable.get("DueDate"),
                "TaxInclusiveAmount": total,
                "TaxInclusiveAmountCurrency": total,
                "VatTotalsAmount": -vat,
                "VatTotalsAmountCurrency": -vat,
                "TaxExclusiveAmount": total + vat,
                "TaxExclusiveAmountCurrency": total + vat,
                "RestAmount": total,
                "RestAmountCurrency": total,
                "JournalEntryID": entry["ID"],
                "CreatedFromJournalEntry": True,
                "StatusCode": S.INVOICE_INVOICED,
            },
            self.clock(),
        )
        receivable["CustomerInvoiceID"] = invoice["ID"]
        receivable["PaymentID"] = kid

    def credit_journal_entry(self, company: Company, number: str, credit_date: str | None) -> dict[str, Any]:
        original = self.find(company, "JournalEntry", "JournalEntryNumber", number)
        if original is None:
            raise message_error(400, f"JournalEntry {number} does not exist")
        lines = self.lines_of(company, original)
        if any(line.get("StatusCode") == S.LINE_CREDITED for line in lines):
            raise message_error(400, f"JournalEntry {number} is already credited")
        financial_date = credit_date or lines[0]["FinancialDate"]
        year = int(financial_date[:4])
        new_number = self.next_journal_number(company, year)
        now = self.clock()
        entry = company.insert(
            "JournalEntry",
            {
                "JournalEntryNumber": new_number,
                "JournalEntryNumberNumeric": int(new_number.split("-")[0]),
                "Description": f"Kreditering av bilag {number}",
            },
            now,
        )
        for line in lines:
            values = {k: v for k, v in line.items() if k not in S.COMMON_FIELDS}
            for name in ("Amount", "AmountCurrency", "RestAmount", "TaxBasisAmount"):
                if values.get(name) is not None:
                    values[name] = -values[name]
            values.update(
                JournalEntryID=entry["ID"],
                JournalEntryNumber=new_number,
                JournalEntryNumberNumeric=entry["JournalEntryNumberNumeric"],
                FinancialDate=financial_date,
                VatDate=financial_date,
                OriginalReferencePostID=line["ID"],
                StatusCode=S.LINE_CREDITED,
            )
            reversal = company.insert("JournalEntryLine", values, now)
            line["StatusCode"] = S.LINE_CREDITED
            line["ReferenceCreditPostID"] = reversal["ID"]
        return entry

    def render_entry(self, company: Company, entry: dict[str, Any]) -> dict[str, Any]:
        return render(company, "JournalEntry", entry, {"Lines": {"Dimensions": {}}, "DraftLines": {}})


@dataclass
class PostingSpec:
    account_id: int
    net: Decimal
    vat: Decimal
    vat_type_id: int | None
    dimensions_id: int | None
    description: str | None = None
    draft: dict[str, Any] | None = None
    is_receivable: bool = False


def mod10_kid(number: str) -> str:
    """A MOD10 (Luhn) KID: the digits of ``number`` plus a check digit."""
    digits = re.sub(r"\D", "", number) or "0"
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return digits + str((10 - total % 10) % 10)


__all__ = ["BizError", "Domain", "mod10_kid"]
