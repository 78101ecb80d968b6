//! Switchyard data adapters on SeaORM for PostgreSQL, MySQL/MariaDB and SQLite. Work in progress.
