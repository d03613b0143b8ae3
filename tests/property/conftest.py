"""Hypothesis profiles for the property tests: a bounded number of examples per test in CI, so that the folder
stays around a minute, and a long run for hunting (VOICE_APP_HYPOTHESIS_PROFILE=long)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 60
LONG_EXAMPLES = 2000

# No deadline: eight helpers share two cores, and a slow example is no failure of the property.
settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
settings.register_profile(
    "long", max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("VOICE_APP_HYPOTHESIS_PROFILE", "ci"))
