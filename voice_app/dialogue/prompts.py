"""What the assistant says besides the versioned notices, in each language it speaks."""

from __future__ import annotations

from enum import StrEnum


class Prompt(StrEnum):
    CONSENT_THANKS = "consent_thanks"
    CONSENT_AGAIN = "consent_again"
    CONSENT_SILENCE = "consent_silence"
    REFUSED_TRANSFER = "refused_transfer"
    TRANSFER = "transfer"
    CANNOT_HELP = "cannot_help"
    SENSITIVE_TRANSFER = "sensitive_transfer"
    WITHDRAWN_TRANSFER = "withdrawn_transfer"
    VERIFICATION_TRANSFER = "verification_transfer"
    ASK_DATE_OF_BIRTH = "ask_date_of_birth"
    ASK_CUSTOMER_NUMBER = "ask_customer_number"
    DETAILS_DID_NOT_MATCH = "details_did_not_match"
    VERIFIED = "verified"
    ANYTHING_ELSE = "anything_else"
    WHAT_ELSE = "what_else"
    NOT_UNDERSTOOD = "not_understood"
    STILL_THERE = "still_there"
    GOODBYE = "goodbye"
    CALLBACK_PROMISED = "callback_promised"
    AFTER_HOURS = "after_hours"


PROMPTS: dict[str, dict[Prompt, str]] = {
    "en": {
        Prompt.CONSENT_THANKS: "Thank you. How can I help you today?",
        Prompt.CONSENT_AGAIN: "Sorry, I did not understand. Do you agree that what you say is turned into text? "
        "Say yes, or press one. Say no, or press two.",
        Prompt.CONSENT_SILENCE: "I did not hear an answer. Do you agree? Say yes, or press one. Say no, or press two.",
        Prompt.REFUSED_TRANSFER: "All right. Nothing you say will be turned into text. "
        "I am connecting you to a colleague now, please hold.",
        Prompt.TRANSFER: "I am connecting you to a colleague now, please hold.",
        Prompt.CANNOT_HELP: "I cannot help with that myself. I am connecting you to a colleague who can, please hold.",
        Prompt.SENSITIVE_TRANSFER: "That is something a colleague should look at with you personally. "
        "I am connecting you now, please hold.",
        Prompt.WITHDRAWN_TRANSFER: "Understood, I have recorded that you withdraw your consent. From now on nothing "
        "you say is turned into text. I am connecting you to a colleague, please hold.",
        Prompt.VERIFICATION_TRANSFER: "I could not confirm your details. I am connecting you to a colleague who can "
        "help, please hold.",
        Prompt.ASK_DATE_OF_BIRTH: "Before I look at your account, I need to check who you are. Please type your date "
        "of birth on the keypad: day, month and year, eight digits. Or say your postcode.",
        Prompt.ASK_CUSTOMER_NUMBER: "I could not find your account by your phone number. Please type your customer "
        "number on the keypad, then press the hash key.",
        Prompt.DETAILS_DID_NOT_MATCH: "Sorry, that did not match our records. Please try again.",
        Prompt.VERIFIED: "Thank you.",
        Prompt.ANYTHING_ELSE: "Is there anything else I can help you with?",
        Prompt.WHAT_ELSE: "What else can I do for you?",
        Prompt.NOT_UNDERSTOOD: "Sorry, I did not catch that. Could you say it again?",
        Prompt.STILL_THERE: "Are you still there? How can I help you?",
        Prompt.GOODBYE: "Thank you for calling Fairpay. Goodbye!",
        Prompt.CALLBACK_PROMISED: "Sorry, no colleague is free right now. We have noted your request and will call "
        "you back as soon as possible. Goodbye.",
        Prompt.AFTER_HOURS: "Our colleagues are not available at this hour. We have noted your request and will "
        "call you back during business hours. Goodbye.",
    },
    "de": {
        Prompt.CONSENT_THANKS: "Vielen Dank. Wie kann ich Ihnen helfen?",
        Prompt.CONSENT_AGAIN: "Entschuldigung, das habe ich nicht verstanden. Sind Sie einverstanden, dass Ihre "
        "Sprache in Text umgewandelt wird? Sagen Sie Ja, oder drücken Sie die Eins. "
        "Sagen Sie Nein, oder drücken Sie die Zwei.",
        Prompt.CONSENT_SILENCE: "Ich habe keine Antwort gehört. Sind Sie einverstanden? Sagen Sie Ja, oder drücken "
        "Sie die Eins. Sagen Sie Nein, oder drücken Sie die Zwei.",
        Prompt.REFUSED_TRANSFER: "In Ordnung. Nichts von dem, was Sie sagen, wird in Text umgewandelt. "
        "Ich verbinde Sie jetzt mit einem Mitarbeiter, bitte bleiben Sie dran.",
        Prompt.TRANSFER: "Ich verbinde Sie jetzt mit einem Mitarbeiter, bitte bleiben Sie dran.",
        Prompt.CANNOT_HELP: "Dabei kann ich selbst leider nicht helfen. Ich verbinde Sie mit einem Mitarbeiter, "
        "der Ihnen hilft, bitte bleiben Sie dran.",
        Prompt.SENSITIVE_TRANSFER: "Das sollte sich ein Mitarbeiter persönlich mit Ihnen ansehen. Ich verbinde Sie "
        "jetzt, bitte bleiben Sie dran.",
        Prompt.WITHDRAWN_TRANSFER: "Verstanden, ich habe Ihren Widerruf festgehalten. Ab jetzt wird nichts mehr von dem, "
        "was Sie sagen, in Text umgewandelt. Ich verbinde Sie mit einem Mitarbeiter, bitte bleiben Sie dran.",
        Prompt.VERIFICATION_TRANSFER: "Ich konnte Ihre Angaben nicht bestätigen. Ich verbinde Sie mit einem "
        "Mitarbeiter, der Ihnen weiterhilft, bitte bleiben Sie dran.",
        Prompt.ASK_DATE_OF_BIRTH: "Bevor ich in Ihr Konto schaue, muss ich prüfen, wer Sie sind. Bitte tippen Sie Ihr "
        "Geburtsdatum ein: Tag, Monat und Jahr, acht Ziffern. Oder sagen Sie Ihre Postleitzahl.",
        Prompt.ASK_CUSTOMER_NUMBER: "Ich konnte Ihr Konto nicht über Ihre Telefonnummer finden. Bitte tippen Sie Ihre "
        "Kundennummer ein, und drücken Sie dann die Raute-Taste.",
        Prompt.DETAILS_DID_NOT_MATCH: "Das passt leider nicht zu unseren Unterlagen. Bitte versuchen Sie es noch einmal.",
        Prompt.VERIFIED: "Vielen Dank.",
        Prompt.ANYTHING_ELSE: "Kann ich sonst noch etwas für Sie tun?",
        Prompt.WHAT_ELSE: "Was kann ich noch für Sie tun?",
        Prompt.NOT_UNDERSTOOD: "Entschuldigung, das habe ich nicht verstanden. Könnten Sie es noch einmal sagen?",
        Prompt.STILL_THERE: "Sind Sie noch da? Wie kann ich Ihnen helfen?",
        Prompt.GOODBYE: "Danke für Ihren Anruf bei Fairpay. Auf Wiederhören!",
        Prompt.CALLBACK_PROMISED: "Leider ist gerade kein Mitarbeiter frei. Wir haben Ihr Anliegen notiert und rufen "
        "Sie so bald wie möglich zurück. Auf Wiederhören.",
        Prompt.AFTER_HOURS: "Unsere Mitarbeiter sind zu dieser Zeit nicht erreichbar. Wir haben Ihr Anliegen "
        "notiert und rufen Sie während der Geschäftszeiten zurück. Auf Wiederhören.",
    },
}


def prompt_text(prompt: Prompt, language: str) -> str:
    return PROMPTS[language][prompt]
