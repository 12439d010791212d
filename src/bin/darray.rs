//! `darray scheduler` and `darray worker`: see `darray --help`.

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Its fallback report of a failed write is an eprintln!, which panics
        // when stderr is gone (a closed log pipe): a scheduler would drop every
        // connection whose task logs. Logging is best effort.
        .log_internal_errors(false)
        .init();
    match darray::distributed::run_from_args(std::env::args_os()) {
        Ok(()) => {}
        // Help and version on standard output with status 0, usage errors on
        // standard error with status 2, as clap prints them.
        Err(darray::Error::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("darray: {e}");
            std::process::exit(2);
        }
    }
}
