"""What the caller's keys mean, in every part of the call."""

from __future__ import annotations

from voice_app.understanding.short_answers import ShortAnswer

# The same key before consent and after it; only while a number is being typed is it a digit like any other.
AGENT_DIGIT = "0"
CONSENT_DIGITS = {"1": ShortAnswer.YES, "2": ShortAnswer.NO}
# While a number is being typed: the hash key ends it, the star key starts it again.
END_OF_ENTRY = "#"
RESTART_ENTRY = "*"
