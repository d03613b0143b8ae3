"""`python -m voice_app`: the `voice-app` command, for when the installed script is not on the path (tests start
servers this way so that the child runs the same code as the test)."""

from voice_app.cli import main

main(prog_name="voice-app")
