//! `darray scheduler` and `darray worker`: see `darray --help`.

use clap::Parser;

fn main() {
    // clap's own handling: help and version on standard output with status 0,
    // a usage error with its message on standard error and status 2.
    let cli = darray::distributed::Cli::parse();
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
    if let Err(e) = darray::distributed::run(cli) {
        eprintln!("darray: {e}");
        std::process::exit(2);
    }
}
