import pytest

from voice_app.understanding.short_answers import ShortAnswer, consent_answer, request_kind


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("Yes.", "en", ShortAnswer.YES),
        ("yeah sure", "en", ShortAnswer.YES),
        ("Okay, I agree!", "en", ShortAnswer.YES),
        ("No.", "en", ShortAnswer.NO),
        ("I don't agree", "en", ShortAnswer.NO),
        ("not okay", "en", ShortAnswer.NO),
        ("can I talk to a person", "en", ShortAnswer.AGENT),
        ("no, give me an agent", "en", ShortAnswer.AGENT),
        ("Ja.", "de", ShortAnswer.YES),
        ("Ja, ich bin einverstanden.", "de", ShortAnswer.YES),
        ("Nein.", "de", ShortAnswer.NO),
        ("Ich bin nicht einverstanden", "de", ShortAnswer.NO),
        ("Mitarbeiter bitte", "de", ShortAnswer.AGENT),
        ("the weather is nice", "en", None),
        ("", "en", None),
        ("yesterday", "en", None),
        ("Janina", "de", None),
    ],
)
def test_consent_answers(text, language, expected):
    assert consent_answer(text, language) is expected


def test_goodbye_and_agent_requests():
    assert request_kind("That's all, bye!", "en") is ShortAnswer.GOODBYE
    assert request_kind("Das war's, tschüss", "de") is ShortAnswer.GOODBYE
    assert request_kind("where is my refund", "en") is None
