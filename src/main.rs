use clap::Parser;
use nsm::exit_codes::ExitCode;

fn main() -> std::process::ExitCode {
    nsm::cmd::report_panics_as_bugs();
    let cli = match nsm::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::Success.into();
        }
        Err(error) => {
            // One line, as every other error: clap's first line, then where to look.
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            return ExitCode::InputError.into();
        }
    };
    nsm::cmd::run_to_exit(cli).into()
}
