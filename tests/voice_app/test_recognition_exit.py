"""A worker that stops while a transcription is still running must exit cleanly: CTranslate2 aborts the whole
process (exit 134, "terminate called …") when the interpreter shuts down under a decode on a daemon thread, which
is how a gunicorn worker ended after handing its callers over in a drain."""

import subprocess
import sys
import textwrap

from voice_app.config import PROJECT_ROOT

EXIT_DURING_DECODE = textwrap.dedent(
    """
    import time
    import numpy as np
    from tests.support import TEST_SECRETS
    from voice_app.call.recognition import Recogniser
    from voice_app.config import DEFAULT_CONFIG_PATH, load_settings
    from voice_app.speech.model_store import resolve_model
    from voice_app.speech.stt import Transcriber

    speech = load_settings(DEFAULT_CONFIG_PATH, TEST_SECRETS).speech
    transcriber = Transcriber(resolve_model(speech.model, speech.model_cache_dir), compute_type=speech.compute_type)
    noise = np.random.default_rng(1).normal(0, 3000, 8000 * 12).astype("<i2").tobytes()
    Recogniser(transcriber, timeout_seconds=30).start_early(noise, None, "en")
    time.sleep(0.3)
    print("leaving while the decode runs", flush=True)
    """
)


def test_the_process_exits_cleanly_while_a_transcription_runs():
    finished = subprocess.run(
        [sys.executable, "-c", EXIT_DURING_DECODE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "leaving while the decode runs" in finished.stdout, finished.stderr[-2000:]
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "terminate called" not in finished.stderr
