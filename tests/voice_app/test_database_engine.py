"""The app's engine on PostgreSQL: a plain postgresql:// URL works with the driver this project installs
(SQLAlchemy 2.1 defaults to psycopg 3), and the session runs in UTC whatever the server's own time zone (the test
server runs in New York time on purpose)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from tests.postgres import SERVER_TIME_ZONE
from voice_app.database import make_engine


def test_a_plain_postgresql_url_uses_the_installed_psycopg_driver(postgres_server):
    plain_url = postgres_server.create_database().replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_timestamps_come_back_in_utc_whatever_the_servers_time_zone(postgres_server):
    assert SERVER_TIME_ZONE != "UTC"
    engine = make_engine(postgres_server.create_database())
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
            assert connection.execute(text("SELECT now()")).scalar_one().utcoffset() == timedelta(0)
            assert connection.execute(
                text("SELECT CAST(now() AS date) = CAST(now() AT TIME ZONE 'UTC' AS date)")
            ).scalar_one()
    finally:
        engine.dispose()
