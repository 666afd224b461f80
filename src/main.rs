//! `bazaar`: one binary, many roles. The container image is the same for every
//! deployment; only the arguments differ.

/// Prints a line of command output. A closed pipe (`bazaar config | head -2`) ends the
/// command quietly, where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod bench;
mod cli;
mod client;
mod demo;
mod services;

use std::process::ExitCode;

use bazaar_platform::Settings;
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("bazaar: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let result = runtime.block_on(cli::run(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bazaar: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
