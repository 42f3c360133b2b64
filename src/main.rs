use clap::Parser;

fn main() -> std::process::ExitCode {
    // A `.env` file is optional; real environment variables win over it.
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    panicless::cli::run(panicless::cli::Cli::parse())
}
