"""The Penn Foster v4 learner (enrollment) request body, with the doc table's sizes enforced."""

from __future__ import annotations

from pydantic import Field, SecretStr, SerializationInfo, field_serializer

from handlers.partners.pennfoster.fields import (
    BirthDate,
    Email,
    Gender,
    OrgId8,
    PhoneType,
    RequestModel,
    required_text,
    reveal,
    text,
)


class LearnerAddress(RequestModel):
    address_1: str = required_text(60, personal=True)
    address_2: str | None = text(60, personal=True)
    address_3: str | None = text(60, personal=True)
    address_4: str | None = text(60, personal=True)
    city: str = required_text(25, personal=True)
    state: str = required_text(3, personal=True)
    postal_code: str = required_text(12, personal=True)
    # ISO 3166 alpha-3 ("USA"): the doc's size is 3 and its examples use alpha-3.
    country: str = Field(min_length=3, max_length=3, repr=False)


class UserInfo(RequestModel):
    """The Penn Foster sales user behind the enrollment (optional)."""

    user_name: str | None = text(40)
    phone_number: str | None = text(15)
    # The table says size 8, which no email address fits; the doc's own example is longer.
    email_address: Email | None = Field(None, max_length=60)


class OrganizationInfo(RequestModel):
    organization_id: OrgId8
    location_id: OrgId8
    client_id: OrgId8
    contact_email_address: Email = Field(max_length=60)
    ship_to_location: bool | None = None
    primary_contact_name: str | None = text(40, personal=True)
    primary_contact_email: Email | None = Field(None, max_length=60, repr=False)
    completion_document_shipping_preference: str = Field(pattern="^(EML|SML)$")


class AddressbookInfo(RequestModel):
    """Blank (0) for a new enrollment, the previous student id for a re-enrollment."""

    learner_id: int = Field(0, ge=0, le=99_999_999)


class LearnerInfo(RequestModel):
    first_name: str = required_text(40, personal=True)
    last_name: str = required_text(40, personal=True)
    gender: Gender = Field(repr=False)
    date_of_birth: BirthDate | None = text(8, personal=True)
    email_address: Email = Field(max_length=60, repr=False)
    phone_number: str = required_text(60, personal=True)
    phone_type: PhoneType | None = None
    secondary_phone_number: str | None = text(20, personal=True)
    secondary_phone_type: PhoneType | None = None
    # eduhook's key for the learner at Penn Foster: required so that duplicates are detected
    # (E608600002 "Alternate id is required" exists for a reason).
    alternate_id: str = required_text(75)
    last_grade_completed: int | None = Field(None, ge=0, le=20, repr=False)
    address: LearnerAddress = Field(repr=False)


class Module(RequestModel):
    id: str = Field(min_length=1, max_length=15)
    name: str = ""


class ProgramInfo(RequestModel):
    # The v4 table says 8, its example "999999999" has 9; v1 and the lead table say 15.
    program_id: str = required_text(15)
    modules_all_open: bool | None = None
    modules: list[Module] | None = None


class ShippingInfo(RequestModel):
    number_of_packages: str | None = None
    instructions: str | None = None
    organization_shipping_charge_amount: float | None = None
    student_shipping_charge_amount: float | None = None


class BillingAddress(RequestModel):
    address_1: str | None = text(60, personal=True)
    address_2: str | None = text(60, personal=True)
    city: str | None = text(25, personal=True)
    state_province: str | None = text(3, personal=True)
    postal_code: str | None = text(12, personal=True)
    country: str | None = text(3, personal=True)


class AccountInfo(RequestModel):
    """Card or bank data: secrets in memory, masked in every dump except the one that is sent."""

    payment_type: str | None = None
    ach_type: str | None = None
    account_number: SecretStr | None = None
    routing_number: SecretStr | None = None
    cc_exp_month: SecretStr | None = None
    cc_exp_year: SecretStr | None = None
    cc_cvv: SecretStr | None = None
    first_name: str | None = text(40, personal=True)
    last_name: str | None = text(40, personal=True)
    save_for_future_use: bool | None = None
    billing_phone_number: str | None = text(20, personal=True)
    billing_address: BillingAddress | None = Field(None, repr=False)

    @field_serializer("account_number", "routing_number", "cc_exp_month", "cc_exp_year", "cc_cvv")
    def _reveal(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        return reveal(value, info)


class PaymentInfo(RequestModel):
    base_price: float | None = None
    discount: float | None = None
    net_price: float | None = None
    organization_percent: float | None = None
    organization_amount: float | None = None
    location_percent: float | None = None
    location_amount: float | None = None
    client_percent: float | None = None
    client_amount: float | None = None
    learner_percent: float | None = None
    learner_amount: float | None = None
    down_payment: float | None = None
    monthly_payment: float | None = None
    number_of_payments: int | None = None
    final_payment: float | None = None
    auto_pay: bool | None = None
    company_down_payment_amount: float | None = None
    company_installment_amount: float | None = None
    company_number_of_installments: int | None = None
    company_last_payment_amount: float | None = None
    shipping_info: ShippingInfo | None = None
    account_info: AccountInfo | None = Field(None, repr=False)


class HighSchoolAddress(RequestModel):
    address_1: str | None = text(60, personal=True)
    address_2: str | None = text(60, personal=True)
    address_3: str | None = text(60, personal=True)
    address_4: str | None = text(60, personal=True)
    city: str | None = text(25, personal=True)
    state: str | None = text(3, personal=True)
    postal_code: str | None = text(12, personal=True)
    country: str | None = text(3, personal=True)


class HighSchoolAttestationInfo(RequestModel):
    is_certified: bool
    high_school_type: str | None = None
    name_on_diploma: str | None = Field(None, repr=False)
    graduation_date: str | None = Field(None, repr=False)
    high_school_name: str | None = Field(None, repr=False)
    address: HighSchoolAddress | None = Field(None, repr=False)


class LearnerRequest(RequestModel):
    """One learner object of ``POST {learners_prefix}/learners`` (v4)."""

    # The table says 8, yet its own example "B2BENRICH" has 9; this is v1's user_id ("User Id for
    # the Enrollment"), whose size was 15.
    enrollment_type: str = required_text(15)
    transaction_guid: str | None = text(36)
    sales_rep: str | None = text(8)
    po_number: str | None = text(75)
    order_number: str | None = text(75)
    # The table says YYYYMMDD, the example "2021-10-28T00:00:00": passed through as given.
    start_date: str | None = None
    expiration_date: str | None = None
    notes: str | None = text(74)
    hold_codes: str | None = text(10)
    user_info: UserInfo | None = None
    organization_info: OrganizationInfo
    addressbook_info: AddressbookInfo | None = None
    learner_info: LearnerInfo
    program_info: ProgramInfo
    payment_info: PaymentInfo | None = Field(None, repr=False)
    high_school_attestation_info: HighSchoolAttestationInfo | None = Field(None, repr=False)

    @property
    def alternate_id(self) -> str:
        return self.learner_info.alternate_id
