"""What the assistant says besides the versioned notices, in each language it speaks."""

from __future__ import annotations

from enum import StrEnum


class Prompt(StrEnum):
    CONSENT_THANKS = "consent_thanks"
    CONSENT_AGAIN = "consent_again"
    CONSENT_SILENCE = "consent_silence"
    REFUSED_TRANSFER = "refused_transfer"
    TRANSFER = "transfer"
    CANNOT_HELP_YET = "cannot_help_yet"
    NOT_UNDERSTOOD = "not_understood"
    STILL_THERE = "still_there"
    GOODBYE = "goodbye"
    TECHNICAL_TROUBLE = "technical_trouble"


PROMPTS: dict[str, dict[Prompt, str]] = {
    "en": {
        Prompt.CONSENT_THANKS: "Thank you. How can I help you today?",
        Prompt.CONSENT_AGAIN: "Sorry, I did not understand. Do you agree that what you say is turned into text? "
        "Say yes, or press one. Say no, or press two.",
        Prompt.CONSENT_SILENCE: "I did not hear an answer. Do you agree? Say yes, or press one. Say no, or press two.",
        Prompt.REFUSED_TRANSFER: "All right. Nothing you say will be turned into text. "
        "I am connecting you to a colleague now, please hold.",
        Prompt.TRANSFER: "I am connecting you to a colleague now, please hold.",
        Prompt.CANNOT_HELP_YET: "I cannot answer that myself. I am connecting you to a colleague who can, please hold.",
        Prompt.NOT_UNDERSTOOD: "Sorry, I did not catch that. Could you say it again?",
        Prompt.STILL_THERE: "Are you still there? How can I help you?",
        Prompt.GOODBYE: "Thank you for calling Fairpay. Goodbye!",
        Prompt.TECHNICAL_TROUBLE: "Sorry, I am having technical trouble. I am connecting you to a colleague, please hold.",
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
        Prompt.CANNOT_HELP_YET: "Das kann ich selbst leider nicht beantworten. Ich verbinde Sie mit einem "
        "Mitarbeiter, der Ihnen hilft, bitte bleiben Sie dran.",
        Prompt.NOT_UNDERSTOOD: "Entschuldigung, das habe ich nicht verstanden. Könnten Sie es noch einmal sagen?",
        Prompt.STILL_THERE: "Sind Sie noch da? Wie kann ich Ihnen helfen?",
        Prompt.GOODBYE: "Danke für Ihren Anruf bei Fairpay. Auf Wiederhören!",
        Prompt.TECHNICAL_TROUBLE: "Entschuldigung, es gibt ein technisches Problem. Ich verbinde Sie mit einem "
        "Mitarbeiter, bitte bleiben Sie dran.",
    },
}


def prompt_text(prompt: Prompt, language: str) -> str:
    return PROMPTS[language][prompt]
