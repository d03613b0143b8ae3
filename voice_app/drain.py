"""Whether this instance is shutting down, as the app sees it: the gunicorn master's drain (voice_app/server.py)
tells the workers; the in-process server never drains."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from voice_app.models import HandoffReason


class CallInProgress(Protocol):
    """What the drain needs of a call it serves: a way to hand the caller to a person."""

    def hand_over(self, reason: HandoffReason) -> None: ...


class DrainSignal(Protocol):
    """Whether this instance is shutting down: it takes no new calls and hands its callers over."""

    @property
    def draining(self) -> bool: ...

    def serving(self, session: CallInProgress) -> AbstractContextManager[None]:
        """Around a media session: it can be handed over when the drain time is up."""


class NeverDraining:
    """The in-process server (tests, `call`, `demo`) stops with its caller; it never drains."""

    draining = False

    def serving(self, _session: CallInProgress) -> AbstractContextManager[None]:
        return nullcontext()


NEVER_DRAINING = NeverDraining()
