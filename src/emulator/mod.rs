//! The local Descope emulator (to be written).
