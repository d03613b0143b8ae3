"""The agent's briefing names every reason a call can be handed over for, and every topic a caller can raise, in
both languages: a reason without words once made the hand-over itself fail."""

import pytest

from voice_app.handoff.briefing import summary_text
from voice_app.models import HandoffReason
from voice_app.understanding.vocabulary import CONVERSATION_INTENTS, Intent

LANGUAGES = ("en", "de")
NOTHING_YET = {"en": "nothing yet", "de": "noch nichts"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", list(HandoffReason))
def test_every_handoff_reason_has_words_in_the_briefing(language, reason):
    text = summary_text(language, customer_name=None, verified=False, topic=None, reason=reason)
    assert reason.value not in text and text.strip()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("topic", sorted(set(Intent) - CONVERSATION_INTENTS))
def test_every_topic_a_caller_can_raise_is_named_in_the_briefing(language, topic):
    text = summary_text(
        language, customer_name=None, verified=False, topic=topic.value, reason=HandoffReason.CALLER_ASKED
    )
    assert NOTHING_YET[language] not in text, text
