"""What the assistant says about an account, in each language: the sentence templates of the account answers.

Kept apart from the code that picks and fills them, so that wording can be reviewed and changed in one place.
"""

from __future__ import annotations

from voice_app.understanding.vocabulary import Intent

ANSWER_PHRASES: dict[str, dict] = {
    "en": {
        "invoice_latest": "your latest invoice, from {merchant} for {amount},",
        "invoice": "your invoice from {merchant} for {amount}",
        "state_paid": "was paid {paid}.",
        "state_open": "is open and due {due}.",
        "state_overdue": "is overdue: it was due {due}.",
        "state_paused": "is paused while your return is being processed.",
        "state_plan": "is being paid in {count} instalments: {paid}, {next}.",
        "plan_paid_none": "none is paid yet",
        "plan_paid_one": "one is paid",
        "plan_paid_many": "{n} are paid",
        "next_instalment": "and the next one, {amount}, is due {due}",
        "next_instalment_overdue": "and the next one, {amount}, is overdue: it was due {due}",
        "open_intro_one": "You have one open payment.",
        "open_intro_total": "You have {n} open payments, {total} in total.",
        "open_intro_many": "You have {n} open payments.",
        "open_open": "{amount} for {merchant}, due {due}.",
        "open_overdue": "{amount} for {merchant}, which is overdue: it was due {due}.",
        "open_paused": "{amount} for {merchant}, paused while your return is being processed.",
        "open_plan": "{amount} for {merchant} in instalments, {next}.",
        "instalment_of": ", instalment {k} of {n}",
        "due_first": "your next payment is {amount} for {merchant}{instalment}, due {due}.",
        "due_later": "after that, {amount} for {merchant}{instalment}, due {due}.",
        "due_overdue": "the payment of {amount} for {merchant}{instalment} is overdue: it was due {due}.",
        "refund_registered": "your return to {merchant} for {amount} was registered {date}. The merchant hasn't "
        "confirmed receiving it yet; we'll process your refund as soon as they do.",
        "refund_received": "{merchant} received your return {date}; the refund of {amount} is being processed.",
        "refund_refunded": "for your return to {merchant}, we refunded {amount} {date}.",
        "unmatched_payment": "We also received {amount} {date} that isn't assigned to an invoice yet.",
        "none": {
            Intent.PAYMENT_STATUS: "I can't see any invoices on your account.",
            Intent.OPEN_PAYMENTS: "You have no open payments: everything is paid.",
            Intent.NEXT_DUE_DATE: "You have no payments coming up.",
            Intent.REFUND_STATUS: "I can't see any returns on your account.",
        },
        "not_found": {
            Intent.PAYMENT_STATUS: "I couldn't find an invoice matching that.",
            Intent.OPEN_PAYMENTS: "I couldn't find an open payment matching that.",
            Intent.NEXT_DUE_DATE: "I couldn't find a payment matching that.",
            Intent.REFUND_STATUS: "I couldn't find a return matching that.",
        },
        "offer_one": "Shall I read out the other one?",
        "offer_many": "Shall I read out the other {n}?",
        "that_was_all": "That's everything I have.",
        "payment_options": "You can pay in the app, by card or direct debit, or by transfer to {holder}, IBAN {iban}, "
        "with your customer number as reference.",
    },
    "de": {
        "invoice_latest": "Ihre letzte Rechnung, von {merchant} über {amount},",
        "invoice": "Ihre Rechnung von {merchant} über {amount}",
        "state_paid": "wurde {paid} bezahlt.",
        "state_open": "ist offen und {due} fällig.",
        "state_overdue": "ist überfällig: sie war {due} fällig.",
        "state_paused": "ist pausiert, solange Ihre Rücksendung bearbeitet wird.",
        "state_plan": "wird in {count} Raten bezahlt: {paid}, {next}.",
        "plan_paid_none": "noch keine ist bezahlt",
        "plan_paid_one": "eine ist bezahlt",
        "plan_paid_many": "{n} sind bezahlt",
        "next_instalment": "die nächste Rate über {amount} ist {due} fällig",
        "next_instalment_overdue": "die nächste Rate über {amount} ist überfällig: sie war {due} fällig",
        "open_intro_one": "Sie haben eine offene Zahlung.",
        "open_intro_total": "Sie haben {n} offene Zahlungen, insgesamt {total}.",
        "open_intro_many": "Sie haben {n} offene Zahlungen.",
        "open_open": "{amount} für {merchant}, fällig {due}.",
        "open_overdue": "{amount} für {merchant}, überfällig: die Zahlung war {due} fällig.",
        "open_paused": "{amount} für {merchant}, pausiert, solange Ihre Rücksendung bearbeitet wird.",
        "open_plan": "{amount} für {merchant} in Raten, {next}.",
        "instalment_of": ", Rate {k} von {n}",
        "due_first": "Ihre nächste Zahlung: {amount} für {merchant}{instalment}, fällig {due}.",
        "due_later": "danach {amount} für {merchant}{instalment}, fällig {due}.",
        "due_overdue": "die Zahlung über {amount} für {merchant}{instalment} ist überfällig: sie war {due} fällig.",
        "refund_registered": "Ihre Rücksendung an {merchant} über {amount} wurde {date} angemeldet. Der Händler hat "
        "den Eingang noch nicht bestätigt; sobald er das tut, bearbeiten wir Ihre Erstattung.",
        "refund_received": "{merchant} hat Ihre Rücksendung {date} erhalten; die Erstattung über {amount} wird "
        "bearbeitet.",
        "refund_refunded": "für Ihre Rücksendung an {merchant} haben wir Ihnen {amount} {date} erstattet.",
        "unmatched_payment": "Außerdem sind {date} {amount} eingegangen, die noch keiner Rechnung zugeordnet sind.",
        "none": {
            Intent.PAYMENT_STATUS: "Ich sehe auf Ihrem Konto keine Rechnungen.",
            Intent.OPEN_PAYMENTS: "Sie haben keine offenen Zahlungen, alles ist bezahlt.",
            Intent.NEXT_DUE_DATE: "Bei Ihnen steht zurzeit keine Zahlung an.",
            Intent.REFUND_STATUS: "Ich sehe auf Ihrem Konto keine Rücksendungen.",
        },
        "not_found": {
            Intent.PAYMENT_STATUS: "Dazu habe ich keine passende Rechnung gefunden.",
            Intent.OPEN_PAYMENTS: "Dazu habe ich keine passende offene Zahlung gefunden.",
            Intent.NEXT_DUE_DATE: "Dazu habe ich keine passende Zahlung gefunden.",
            Intent.REFUND_STATUS: "Dazu habe ich keine passende Rücksendung gefunden.",
        },
        "offer_one": "Soll ich Ihnen die andere auch vorlesen?",
        "offer_many": "Soll ich Ihnen die anderen {n} auch vorlesen?",
        "that_was_all": "Das war alles.",
        "payment_options": "Sie können in der App bezahlen, per Karte oder Lastschrift, oder per Überweisung an "
        "{holder}, IBAN {iban}, mit Ihrer Kundennummer als Verwendungszweck.",
    },
}
