//! The `tenantry` binary: see `tenantry --help`.

fn main() -> std::process::ExitCode {
    tenantry::cli::main()
}
