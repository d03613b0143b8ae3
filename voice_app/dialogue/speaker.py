"""Turns texts and prompts into `Say` actions with call-unique prompt ids (they come back as Twilio marks)."""

from __future__ import annotations

from voice_app.dialogue.messages import Say
from voice_app.dialogue.prompts import Prompt, prompt_text


class Speaker:
    def __init__(self) -> None:
        self._said = 0
        self.last_text: str | None = None

    def text(self, text: str, language: str, *, interruptible: bool, evidence: str | None = None) -> Say:
        self._said += 1
        self.last_text = text
        return Say(f"p{self._said}", text, language, interruptible, evidence)

    def prompt(self, prompt: Prompt, language: str, *, interruptible: bool) -> Say:
        return self.text(prompt_text(prompt, language), language, interruptible=interruptible)
