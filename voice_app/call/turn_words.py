"""Would the dialogue act on what the caller has said so far, as it is? The words' half of the end of turn that
listens to the words too (`voice_app.call.turn_taking.turn_is_over`): a caller who pauses after "I would like to
know my" may sound finished, but those words are no request yet, so the turn is given longer.

Acted on: at the consent question a clear consent answer (yes, no, a person); later a request for a person, a
goodbye, a plain yes or no while the assistant expects one, and anything the intent classifier is sure enough of to
answer (its answer threshold, as the dialogue routes it) or to hand over as a request for a person or a sensitive
matter. Not acted on: nothing heard, a transcript below the dialogue's confidence floor, what the classifier would
ask the caller to repeat, and what it finds out of scope.
"""

from __future__ import annotations

from voice_app.dialogue.machine import Dialogue, State
from voice_app.speech.stt import Transcript
from voice_app.understanding.intents import Route
from voice_app.understanding.short_answers import ShortAnswer, consent_answer, matches, request_kind
from voice_app.understanding.vocabulary import Intent


def dialogue_would_act_on(dialogue: Dialogue, heard: Transcript) -> bool:
    text = heard.text.strip()
    if not text or heard.confidence < dialogue.min_transcript_confidence:
        return False
    language = dialogue.language
    if dialogue.state is State.AWAITING_CONSENT:
        return consent_answer(text, language) is not None
    if dialogue.state is not State.CONVERSATION:
        return False
    if request_kind(text, language) is not None:
        return True
    if dialogue.expects_short_answer and any(
        matches(text, language, answer) for answer in (ShortAnswer.YES, ShortAnswer.NO)
    ):
        return True
    understood = dialogue.assistance.classifier.classify(text, language, transcript_confidence=heard.confidence)
    # "Out of scope" is where fragments land ("I would like to know my", "What is the" score 0.9 and would go to a
    # person): not a request to act on at once.
    return understood.route is Route.ANSWER or (
        understood.route is Route.HUMAN and understood.intent is not Intent.OUT_OF_SCOPE
    )
