//! The descope-mgmt command line. The engine is the library (`src/lib.rs`); everything that
//! parses arguments, prompts or draws progress lives here in `cli`, outside it.

mod cli;

/// jemalloc rather than the platform's allocator: a plan allocates millions of small objects
/// in phases (config, then live project), and glibc kept what one phase freed as holes the
/// next could not use, so a 10k-tenant plan peaked at twice its live heap, and two threads
/// parsing a plan file for `show` queued on one arena's lock (docs/dependencies.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf` symbol, under the prefix the crate builds it with),
/// read before its first allocation: freed pages go back to the system at once rather than
/// after 10 s, so what the config phase frees does not count again in the live phase.
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_OPTIONS: &[u8; 34] = b"dirty_decay_ms:0,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    cli::main()
}
