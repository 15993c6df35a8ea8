//! The `showrunner` command: run stock workflows with progress bars and gates at the terminal,
//! list, show and export episodes. See `showrunner --help`.

mod cli;

use clap::Parser;

/// mimalloc: the engine's actors, the commit thread and sled allocate from many threads at once,
/// where glibc's allocator spends its time on arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(args));
    // The engine has shut down; a prompt left reading the terminal (ctrl-c at a gate) is not
    // waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The log filter: `SHOWRUNNER_LOG`, else the conventional `RUST_LOG`, else `warn`. A variable
/// that is set but not a filter is said and passed over.
fn log_filter() -> tracing_subscriber::EnvFilter {
    for name in ["SHOWRUNNER_LOG", "RUST_LOG"] {
        let Some(value) = std::env::var(name).ok().filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        match tracing_subscriber::EnvFilter::try_new(&value) {
            Ok(filter) => return filter,
            Err(e) => eprintln!("warning: {name}=`{value}` is not a log filter ({e}); ignored"),
        }
    }
    tracing_subscriber::EnvFilter::new("warn")
}
