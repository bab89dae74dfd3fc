//! The `tenantry` binary: see `tenantry --help`.

/// Every request allocates and frees a few hundred small buffers (rows,
/// strings, the rendered page); mimalloc's thread-local free lists do that
/// in fewer instructions than glibc's malloc, and without its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tenantry::cli::main()
}
