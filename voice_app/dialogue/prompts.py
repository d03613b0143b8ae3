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
    # After a transfer nobody took, or outside business hours: the caller's choice, and what follows it.
    AGENT_UNREACHED_CHOICE = "agent_unreached_choice"
    AFTER_HOURS_CHOICE = "after_hours_choice"
    CALLBACK_PROMISED = "callback_promised"
    AFTER_HOURS_CALLBACK_PROMISED = "after_hours_callback_promised"
    VOICEMAIL_INSTRUCTIONS = "voicemail_instructions"
    VOICEMAIL_THANKS = "voicemail_thanks"
    # Conversation glue, confirmations and hand-overs of issue 12.
    GREETING_BACK = "greeting_back"
    YOU_ARE_WELCOME = "you_are_welcome"
    GO_AHEAD = "go_ahead"
    ASK_ABOUT_TOPIC = "ask_about_topic"
    CONFIRM_WITHDRAWAL = "confirm_withdrawal"
    CONFIRM_WITHDRAWAL_AGAIN = "confirm_withdrawal_again"
    CONSENT_KEPT = "consent_kept"
    FRUSTRATED_TRANSFER = "frustrated_transfer"
    SECURITY_TRANSFER = "security_transfer"


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
        Prompt.AGENT_UNREACHED_CHOICE: "Sorry, no colleague could take your call just now. To be called back, press "
        "one, or simply stay on the line. To leave a voice message instead, press two.",
        Prompt.AFTER_HOURS_CHOICE: "Our colleagues are not available at this hour. To be called back during business "
        "hours, press one, or simply stay on the line. To leave a voice message instead, press two.",
        Prompt.CALLBACK_PROMISED: "Thank you. We have noted your request, and a colleague will call you back as soon "
        "as possible. Goodbye.",
        Prompt.AFTER_HOURS_CALLBACK_PROMISED: "Thank you. We have noted your request, and a colleague will call you "
        "back during business hours. Goodbye.",
        Prompt.VOICEMAIL_INSTRUCTIONS: "After the tone, please say your name, a number to call you back on, and what "
        "it is about. Your message is recorded for a colleague to listen to. To finish, press the hash key or hang up.",
        Prompt.VOICEMAIL_THANKS: "Thank you. A colleague will listen to your message and get back to you. Goodbye.",
        Prompt.GREETING_BACK: "Hello! How can I help you?",
        Prompt.YOU_ARE_WELCOME: "You're welcome. Is there anything else I can help you with?",
        Prompt.GO_AHEAD: "Yes, please go ahead.",
        Prompt.ASK_ABOUT_TOPIC: "Gladly. What would you like to know about it?",
        Prompt.CONFIRM_WITHDRAWAL: "Do you want to withdraw your consent? Then nothing more you say is turned into "
        "text, and I connect you to a colleague. Please say yes or no, or press one for yes, two for no.",
        Prompt.CONFIRM_WITHDRAWAL_AGAIN: "Sorry, I did not catch that. Do you want to withdraw your consent? Please "
        "say yes or no.",
        Prompt.CONSENT_KEPT: "Fine, your consent stays. How can I help?",
        Prompt.FRUSTRATED_TRANSFER: "I'm sorry this is taking long. I'll put you through to a colleague, please hold.",
        Prompt.SECURITY_TRANSFER: "I'll put you through to a colleague right away, who can secure your account. "
        "Please hold.",
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
        Prompt.WITHDRAWN_TRANSFER: "Verstanden, ich habe Ihren Widerruf festgehalten. Ab jetzt wird nichts mehr "
        "von dem, was Sie sagen, in Text umgewandelt. Ich verbinde Sie mit einem Mitarbeiter, bitte bleiben Sie dran.",
        Prompt.VERIFICATION_TRANSFER: "Ich konnte Ihre Angaben nicht bestätigen. Ich verbinde Sie mit einem "
        "Mitarbeiter, der Ihnen weiterhilft, bitte bleiben Sie dran.",
        Prompt.ASK_DATE_OF_BIRTH: "Bevor ich in Ihr Konto schaue, muss ich prüfen, wer Sie sind. Bitte tippen Sie Ihr "
        "Geburtsdatum ein: Tag, Monat und Jahr, acht Ziffern. Oder sagen Sie Ihre Postleitzahl.",
        Prompt.ASK_CUSTOMER_NUMBER: "Ich konnte Ihr Konto nicht über Ihre Telefonnummer finden. Bitte tippen Sie Ihre "
        "Kundennummer ein, und drücken Sie dann die Raute-Taste.",
        Prompt.DETAILS_DID_NOT_MATCH: (
            "Das passt leider nicht zu unseren Unterlagen. Bitte versuchen Sie es noch einmal."
        ),
        Prompt.VERIFIED: "Vielen Dank.",
        Prompt.ANYTHING_ELSE: "Kann ich sonst noch etwas für Sie tun?",
        Prompt.WHAT_ELSE: "Was kann ich noch für Sie tun?",
        Prompt.NOT_UNDERSTOOD: "Entschuldigung, das habe ich nicht verstanden. Könnten Sie es noch einmal sagen?",
        Prompt.STILL_THERE: "Sind Sie noch da? Wie kann ich Ihnen helfen?",
        Prompt.GOODBYE: "Danke für Ihren Anruf bei Fairpay. Auf Wiederhören!",
        Prompt.AGENT_UNREACHED_CHOICE: "Leider konnte gerade kein Mitarbeiter Ihren Anruf annehmen. Für einen Rückruf "
        "drücken Sie die Eins, oder bleiben Sie einfach in der Leitung. Für eine Sprachnachricht drücken Sie die Zwei.",
        Prompt.AFTER_HOURS_CHOICE: "Unsere Mitarbeiter sind zu dieser Zeit nicht erreichbar. Für einen Rückruf während "
        "der Geschäftszeiten drücken Sie die Eins, oder bleiben Sie einfach in der Leitung. Für eine Sprachnachricht "
        "drücken Sie die Zwei.",
        Prompt.CALLBACK_PROMISED: "Vielen Dank. Wir haben Ihr Anliegen notiert, und ein Mitarbeiter ruft Sie so bald "
        "wie möglich zurück. Auf Wiederhören.",
        Prompt.AFTER_HOURS_CALLBACK_PROMISED: "Vielen Dank. Wir haben Ihr Anliegen notiert, und ein Mitarbeiter ruft "
        "Sie während der Geschäftszeiten zurück. Auf Wiederhören.",
        Prompt.VOICEMAIL_INSTRUCTIONS: "Bitte nennen Sie nach dem Signalton Ihren Namen, eine Rückrufnummer und Ihr "
        "Anliegen. Ihre Nachricht wird für einen Mitarbeiter aufgezeichnet. Zum Beenden drücken Sie die Raute-Taste "
        "oder legen Sie auf.",
        Prompt.VOICEMAIL_THANKS: "Vielen Dank. Ein Mitarbeiter hört sich Ihre Nachricht an und meldet sich bei Ihnen. "
        "Auf Wiederhören.",
        Prompt.GREETING_BACK: "Guten Tag! Wie kann ich Ihnen helfen?",
        Prompt.YOU_ARE_WELCOME: "Gern geschehen. Kann ich sonst noch etwas für Sie tun?",
        Prompt.GO_AHEAD: "Ja, bitte, worum geht es?",
        Prompt.ASK_ABOUT_TOPIC: "Gern. Was möchten Sie dazu wissen?",
        Prompt.CONFIRM_WITHDRAWAL: "Möchten Sie Ihre Einwilligung widerrufen? Dann wird nichts mehr von dem, was Sie "
        "sagen, in Text umgewandelt, und ich verbinde Sie mit einem Mitarbeiter. Bitte sagen Sie Ja oder Nein, oder "
        "drücken Sie die Eins für Ja, die Zwei für Nein.",
        Prompt.CONFIRM_WITHDRAWAL_AGAIN: "Entschuldigung, das habe ich nicht verstanden. Möchten Sie Ihre Einwilligung "
        "widerrufen? Bitte sagen Sie Ja oder Nein.",
        Prompt.CONSENT_KEPT: "Gut, Ihre Einwilligung bleibt bestehen. Wie kann ich Ihnen helfen?",
        Prompt.FRUSTRATED_TRANSFER: "Es tut mir leid, dass es so lange dauert. Ich verbinde Sie mit einem Mitarbeiter, "
        "bitte bleiben Sie dran.",
        Prompt.SECURITY_TRANSFER: "Ich verbinde Sie sofort mit einem Mitarbeiter, der Ihr Konto absichern kann. Bitte "
        "bleiben Sie dran.",
    },
}

# Said by the call's executor, not the dialogue, when the call itself fails (the database, speech recognition or
# synthesis): rendered once at start and kept, so it plays even when synthesis is what failed.
APOLOGIES: dict[str, str] = {
    "en": "Sorry, something went wrong on our side. I am connecting you to a colleague now, please hold.",
    "de": "Entschuldigung, bei uns ist ein Fehler aufgetreten. Ich verbinde Sie jetzt mit einem Mitarbeiter, "
    "bitte bleiben Sie dran.",
}


def prompt_text(prompt: Prompt, language: str) -> str:
    return PROMPTS[language][prompt]
