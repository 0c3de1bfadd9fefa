//! Apply: verify a saved plan against fresh live state, then carry it out.

pub mod execute;
pub mod issued;
pub mod readback;
pub mod rederive;
pub mod secrets;
pub mod verify;
