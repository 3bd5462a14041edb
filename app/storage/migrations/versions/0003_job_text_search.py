"""Indexed free-text search on job descriptions: SQLite FTS5 with the trigram tokenizer, PostgreSQL pg_trgm.

Both answer "contains this text, any case" from an index instead of reading every job.

Revision ID: 0003
Revises: 0002
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None
log = logging.getLogger('alembic')

SQLITE = [
    "CREATE VIRTUAL TABLE job_search USING fts5(description, content='job', content_rowid='id', tokenize='trigram')",
    "INSERT INTO job_search (job_search) VALUES ('rebuild')",
    """CREATE TRIGGER job_search_insert AFTER INSERT ON job BEGIN
        INSERT INTO job_search (rowid, description) VALUES (NEW.id, NEW.description);
    END""",
    """CREATE TRIGGER job_search_delete AFTER DELETE ON job BEGIN
        INSERT INTO job_search (job_search, rowid, description) VALUES ('delete', OLD.id, OLD.description);
    END""",
    """CREATE TRIGGER job_search_update AFTER UPDATE OF description ON job BEGIN
        INSERT INTO job_search (job_search, rowid, description) VALUES ('delete', OLD.id, OLD.description);
        INSERT INTO job_search (rowid, description) VALUES (NEW.id, NEW.description);
    END""",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for statement in SQLITE:
            op.execute(statement)
        return
    try:
        with bind.begin_nested():  # a failed CREATE EXTENSION must not abort the whole migration
            bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public'))
            bind.execute(sa.text('CREATE INDEX ix_job_description_trgm ON job USING gin (description gin_trgm_ops)'))
    except sa.exc.DBAPIError as error:
        log.warning('pg_trgm is not available (%s); text search on jobs will read every row', error.orig)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('job_search_insert', 'job_search_delete', 'job_search_update'):
            op.execute(f'DROP TRIGGER {name}')
        op.execute('DROP TABLE job_search')
    else:
        op.execute('DROP INDEX IF EXISTS ix_job_description_trgm')
