"""What the `voice-app` group hands each subcommand: the options given before the subcommand, and the settings and
database made from them on first use. Subcommand modules take it with `click.pass_obj` and never import
`voice_app.cli`, which imports them to register their commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from voice_app.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass
class CliContext:
    config_path: str | None = None
    log_format: str = "text"
    _settings: Settings | None = field(default=None, init=False, repr=False)
    _engine: Engine | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        """The configuration, loaded once; a bad one stops the command with one line saying what is wrong."""
        if self._settings is None:
            try:
                self._settings = load_settings(Path(self.config_path) if self.config_path else None)
            except ConfigError as error:
                raise click.ClickException(f"configuration: {error}") from None
        return self._settings

    @property
    def engine(self) -> Engine:
        """The database, opened once and at the head revision (see `voice_app.database.open_database`)."""
        if self._engine is None:
            # Imported here so that commands without a database (understand, model install) start without
            # loading every table.
            from voice_app.database import open_database

            self._engine = open_database(self.settings.database_url, self.settings.database_url_setting)
        return self._engine

    def secret_key(self) -> str:
        """VOICE_APP_SECRET_KEY, or stop the command saying it is missing."""
        try:
            return self.settings.require_secret_key()
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
