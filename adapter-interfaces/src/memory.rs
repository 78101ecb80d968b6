//! placeholder
/// x
pub fn adapters() -> crate::DataAdapters { todo!() }
