"""Who may use the web consoles: users with a role, their passwords, and signing in with a lock-out after repeated
failures. No web code here, so that the database, the CLI and the consoles can all use it; the Flask side (sessions,
forms, the role check for views) is `voice_app.web.auth`."""
