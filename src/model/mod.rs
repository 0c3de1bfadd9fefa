//! The resource model shared by the config side and the live side: addresses and kinds.

pub mod address;

pub use address::{Address, AddressError, Kind};
