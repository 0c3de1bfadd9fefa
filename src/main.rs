//! The descope-mgmt command line. The engine is the library (`src/lib.rs`); everything that
//! parses arguments, prompts or draws progress lives here in `cli`, outside it.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
