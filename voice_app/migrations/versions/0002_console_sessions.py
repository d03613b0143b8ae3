"""Console sessions kept on the server (so that signing out, a changed password and a deactivation end them), and
wrong sign-ins counted per client address as well as per username.

The failures recorded so far have no address and only ever mattered for 15 minutes, so they are deleted rather
than given a made-up one: at most a few usernames' waits end early. Sessions signed in before the upgrade have
no row and end: their users sign in again.

Revision ID: 0002
Revises: 0001
Created: 2026-11-30 06:32:39.855291
"""

import sqlalchemy as sa
import sqlmodel  # autogenerate writes sqlmodel's AutoString for str fields
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_token_hash'), ['token_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_console_sessions_user_id'), ['user_id'], unique=False)

    op.execute('DELETE FROM login_failures')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False))
        batch_op.create_index(batch_op.f('ix_login_failures_client_key'), ['client_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_client_key'))
        batch_op.drop_column('client_key')

    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_token_hash'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_expires_at'))

    op.drop_table('console_sessions')
