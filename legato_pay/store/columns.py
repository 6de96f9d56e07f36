"""Column types shared by every table module."""

from sqlalchemy import BigInteger, Integer

#: 64-bit ids on PostgreSQL; SQLite needs ``INTEGER PRIMARY KEY`` for its rowid alias.
IdType = BigInteger().with_variant(Integer(), "sqlite")
