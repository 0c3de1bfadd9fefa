//! The resource model shared by the config side and the live side: addresses and kinds.

pub mod address;
pub mod builtin;

pub use address::{Address, AddressError, Kind};
