//! Switchyard data adapters on sqlx for PostgreSQL, MySQL/MariaDB and SQLite. Work in progress.
