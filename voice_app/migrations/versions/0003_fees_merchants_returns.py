"""Fees charged on invoices (account_fees) and the end of an invoice's pause (account_invoices.paused_until), for
the fee answers and for pausing an invoice while a return is not yet registered by the merchant.

Existing invoices get no pause end: a paused invoice from before keeps its due date, which is what it meant then.

Revision ID: 0003
Revises: 0002
Created: 2026-11-30 08:45:00
"""

import sqlalchemy as sa
import sqlmodel  # autogenerate writes sqlmodel's AutoString for str fields
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_fees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('charged_date', sa.Date(), nullable=False),
    sa.Column('schedule_version', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.CheckConstraint("kind IN ('reminder_fee', 'late_fee')", name='ck_account_fees_kind'),
    sa.CheckConstraint('amount_cents > 0', name='ck_account_fees_amount'),
    sa.CheckConstraint('length(currency) = 3', name='ck_account_fees_currency'),
    sa.ForeignKeyConstraint(['customer_id'], ['account_customers.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['account_invoices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account_fees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_fees_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_fees_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('account_invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('account_invoices', schema=None) as batch_op:
        batch_op.drop_column('paused_until')

    with op.batch_alter_table('account_fees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_fees_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_account_fees_customer_id'))

    op.drop_table('account_fees')
