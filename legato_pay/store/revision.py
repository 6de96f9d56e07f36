"""The schema revision this code needs: a module of its own so the light read path
(``store/lightread``) can check it without importing SQLAlchemy or Alembic."""

#: Alembic head revision; a test checks it against the migration scripts.
HEAD_REVISION = "0027_accounts_fillfactor"
