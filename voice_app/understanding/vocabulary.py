"""The words the understanding and answering side shares: what a caller can want, and the names of the months.

One definition each, so that the classifier, the answers and the dialogue cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    PAYMENT_STATUS = "payment_status"  # is my invoice paid?
    OPEN_PAYMENTS = "open_payments"  # what is still open?
    NEXT_DUE_DATE = "next_due_date"  # when is my next payment due?
    REFUND_STATUS = "refund_status"  # where is my refund?
    PAYMENT_OPTIONS = "payment_options"  # how can I pay, what are your bank details?
    HUMAN = "human"
    GOODBYE = "goodbye"
    AFFIRM = "affirm"
    DENY = "deny"
    REPEAT = "repeat"
    WITHDRAW_CONSENT = "withdraw_consent"
    FRAUD = "fraud"
    STOLEN_DATA = "stolen_data"
    MERCHANT_DISPUTE = "merchant_dispute"
    COMPLAINT = "complaint"
    FINANCIAL_HARDSHIP = "financial_hardship"
    OUT_OF_SCOPE = "out_of_scope"
    # Issue 12, answered from the fee schedule, the merchant directory and the account:
    FEES = "fees"  # what does a reminder / late payment / instalment plan cost, why was I charged a fee?
    MERCHANT_QUESTION = "merchant_question"  # delivery, product, size, warranty: the merchant's contact
    RETURN_NOT_REGISTERED = "return_not_registered"  # sent it back, the merchant has not registered it, invoice due
    # Conversation glue and frustration (issue 12).
    GREETING = "greeting"  # hello, good morning
    THANKS = "thanks"  # thanks, on its own: not yet a goodbye
    ONE_MORE_THING = "one_more_thing"  # wait, one more thing
    VAGUE_QUESTION = "vague_question"  # I have a question about my invoice (but not which)
    FRUSTRATED = "frustrated"  # this is useless, insults: to a person at once


# Routine questions the assistant answers itself.
ROUTINE_INTENTS = frozenset(
    {
        Intent.PAYMENT_STATUS,
        Intent.OPEN_PAYMENTS,
        Intent.NEXT_DUE_DATE,
        Intent.REFUND_STATUS,
        Intent.PAYMENT_OPTIONS,
    }
)
# The routine questions answered from the caller's account, so only once the caller is verified.
ACCOUNT_INTENTS = ROUTINE_INTENTS - {Intent.PAYMENT_OPTIONS}
# Turns that keep the conversation going without asking anything yet: answered with a question back, and they
# never end or transfer a call.
GLUE_INTENTS = frozenset({Intent.GREETING, Intent.THANKS, Intent.ONE_MORE_THING, Intent.VAGUE_QUESTION})
CONVERSATION_INTENTS = frozenset({Intent.GOODBYE, Intent.AFFIRM, Intent.DENY, Intent.REPEAT}) | GLUE_INTENTS
# Issue 12's questions, answered by voice_app/answers/fees.py, merchants.py and returns.py. Fees and merchants
# are answered generally without verification, from the caller's account after it; a return needs the account.
TERMS_AND_MERCHANT_INTENTS = frozenset({Intent.FEES, Intent.MERCHANT_QUESTION, Intent.RETURN_NOT_REGISTERED})
ANSWERED_INTENTS = ROUTINE_INTENTS | CONVERSATION_INTENTS | TERMS_AND_MERCHANT_INTENTS
SENSITIVE_INTENTS = frozenset(
    {
        Intent.FRAUD,
        Intent.STOLEN_DATA,
        Intent.MERCHANT_DISPUTE,
        Intent.COMPLAINT,
        Intent.FINANCIAL_HARDSHIP,
    }
)
# Someone may be misusing the caller's account or payment data: a person at once, even when the words were only
# half understood.
SECURITY_INTENTS = frozenset({Intent.FRAUD, Intent.STOLEN_DATA})
HANDED_OVER_INTENTS = frozenset(Intent) - ANSWERED_INTENTS

# As the assistant says them; compare them with a caller's words in lower case (and folded, where accents
# may be missing).
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
}
# Other ways transcripts write a month, in either language: März without its umlaut, Austrian "Jänner",
# "Sept" for September.
MONTH_SPELLINGS: dict[str, int] = {"maerz": 3, "marz": 3, "jänner": 1, "sept": 9}
