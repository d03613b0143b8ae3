"""Per-stage times of each answered turn beside its answer latency: end-of-turn wait, transcription,
understanding, account lookup, synthesis, first frame. Older rows keep NULL: they were not timed by stage.

Revision ID: 0004
Revises: 0003
Created: 2026-11-30 08:55:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

STAGE_COLUMNS = (
    'end_of_turn_ms', 'transcription_ms', 'understanding_ms', 'account_lookup_ms', 'synthesis_ms', 'first_frame_ms'
)


def upgrade() -> None:
    with op.batch_alter_table('answer_latencies', schema=None) as batch_op:
        for name in STAGE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('answer_latencies', schema=None) as batch_op:
        for name in reversed(STAGE_COLUMNS):
            batch_op.drop_column(name)
