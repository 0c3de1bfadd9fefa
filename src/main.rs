fn main() -> std::process::ExitCode {
    descope_mgmt::cli::main()
}
