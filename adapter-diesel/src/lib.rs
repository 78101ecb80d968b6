//! Switchyard data adapters on Diesel for PostgreSQL, MySQL/MariaDB and SQLite. Work in progress.
