"""Penn Foster: the B2B API client, its request/response models and its error mapping."""

from __future__ import annotations

from handlers.partners.pennfoster.client import MAX_BATCH, PennFosterClient
from handlers.partners.pennfoster.enrollment import (
    Enrolled,
    LearnerEnrollment,
    NotEnrolled,
    enroll_existing_learners,
    enroll_learners,
)
from handlers.partners.pennfoster.error_map import (
    ALREADY_DONE_CODES,
    LEARNER_DONE_CODES,
    LEARNER_EXISTS_CODES,
    PARTNER,
    SYSTEM_CODES,
    TRANSIENT_CODES,
    ItemOutcome,
    classify_learner_result,
    classify_result,
)
from handlers.partners.pennfoster.lead_request import (
    LeadAddress,
    LeadOptionalInfo,
    LeadRequest,
    LeadRequiredInfo,
)
from handlers.partners.pennfoster.learner_request import (
    AccountInfo,
    AddressbookInfo,
    HighSchoolAttestationInfo,
    LearnerAddress,
    LearnerInfo,
    LearnerRequest,
    OrganizationInfo,
    PaymentInfo,
    ProgramInfo,
    UserInfo,
)
from handlers.partners.pennfoster.responses import (
    CancelRequest,
    CancelResult,
    LeadResult,
    LearnerPage,
    LearnerRecord,
    LearnerResult,
    Organization,
    PartnerErrorItem,
)
from handlers.partners.pennfoster.token import (
    CachedToken,
    MemoryTokenCache,
    RedisTokenCache,
    TokenCache,
)

__all__ = [
    "ALREADY_DONE_CODES",
    "LEARNER_DONE_CODES",
    "LEARNER_EXISTS_CODES",
    "MAX_BATCH",
    "PARTNER",
    "SYSTEM_CODES",
    "TRANSIENT_CODES",
    "AccountInfo",
    "AddressbookInfo",
    "CachedToken",
    "CancelRequest",
    "CancelResult",
    "Enrolled",
    "HighSchoolAttestationInfo",
    "ItemOutcome",
    "LeadAddress",
    "LeadOptionalInfo",
    "LeadRequest",
    "LeadRequiredInfo",
    "LeadResult",
    "LearnerAddress",
    "LearnerEnrollment",
    "LearnerInfo",
    "LearnerPage",
    "LearnerRecord",
    "LearnerRequest",
    "LearnerResult",
    "MemoryTokenCache",
    "NotEnrolled",
    "Organization",
    "OrganizationInfo",
    "PartnerErrorItem",
    "PaymentInfo",
    "PennFosterClient",
    "ProgramInfo",
    "RedisTokenCache",
    "TokenCache",
    "UserInfo",
    "classify_learner_result",
    "classify_result",
    "enroll_existing_learners",
    "enroll_learners",
]
