"""county_evaluations_in: where an evaluation of every county stages its results; lz4 for stored results

Revision ID: c4a7e2b9d1f3
Revises: b7e1f0c2a9d4
Create Date: 2026-11-23 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4a7e2b9d1f3'
down_revision = 'b7e1f0c2a9d4'
branch_labels = None
depends_on = None


def _lz4():
    """A server built with lz4 (PostgreSQL 14+): results compress and read back faster than with pglz."""
    return op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_table(
        'county_evaluations_in',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('assessable', sa.Boolean(), nullable=False),
        sa.Column('catalog_version', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        # rows live only inside the transaction that writes them: no write-ahead log needed
        prefixes=['UNLOGGED'] if postgres else [],
    )
    if postgres:
        # a result (a few kB) is compressed once, as it is staged, and kept in the row: the upsert copies the
        # compressed value as it is
        op.execute("ALTER TABLE county_evaluations_in ALTER COLUMN result SET STORAGE MAIN")
        if _lz4():
            op.execute("ALTER TABLE county_evaluations_in ALTER COLUMN result SET COMPRESSION lz4")
            op.execute("ALTER TABLE county_evaluations ALTER COLUMN result SET COMPRESSION lz4")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql' and _lz4():
        op.execute("ALTER TABLE county_evaluations ALTER COLUMN result SET COMPRESSION default")
    op.drop_table('county_evaluations_in')
