"""One call's runtime. During the stream: which stream may open for which call (`streams`), the caller's audio
turned into turns on the reader's thread (`turn_taking`), what the executor takes from its queue (`inputs`), the
call's life as a pure state machine with the dialogue inside (`stream_machine`), speech recognition
(`recognition`), the executor that owns the call's state on one thread and carries out the machine's actions
(`executor`), and the observers that measure and report without taking part (`observers`). After the stream:
the hand-over to a person as a pure state machine over Twilio's follow-up requests (`transfer_flow`) and its
executor (`follow_ups`); the voice message being recorded, as a pure machine (`voice_message`).
`voice_app.media_session` and `voice_app.voicemail_session` wire the streams to their websockets."""
