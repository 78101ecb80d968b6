//! Dual-write composition of Switchyard adapters for zero-downtime database migrations. Work in progress.
