"""users.locale: the display language a user chose

Revision ID: b7e1f0c2a9d4
Revises: 1e4c94c28737
Create Date: 2026-11-23 05:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e1f0c2a9d4'
down_revision = '1e4c94c28737'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
