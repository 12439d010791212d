//! `darray scheduler` and `darray worker`: see `darray --help`.

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = darray::distributed::run_from_args(std::env::args_os()) {
        eprintln!("darray: {e}");
        std::process::exit(2);
    }
}
