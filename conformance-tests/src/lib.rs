//! Reusable conformance suite proving Switchyard adapters behave identically. Work in progress.
