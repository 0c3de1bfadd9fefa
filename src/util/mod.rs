//! Small building blocks that know nothing of Descope: safe file writes, a dependency queue,
//! timestamps and canonical JSON. The engine's modules compose them.

pub mod atomic;
pub mod canonical;
pub mod dependency_queue;
pub mod input;
pub mod interrupt;
pub mod json;
pub mod jsonl;
pub mod text_serde;
pub mod timestamp;
pub mod x509;
