//! The command line: `panicless [serve]`, `migrate`, `user ...`, `token ...`, `export`, `import`, ...

use crate::config::Config;
use crate::db::{self, models::user};
use crate::state::AppState;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// `println!` for a command's report. When whoever reads it has gone (`panicless user list |
/// head -1`), the command ends quietly with success: its work is done by the time it reports,
/// and `println!` would panic ("failed printing to stdout") and exit 101.
macro_rules! say {
    ($($arg:tt)*) => {{
        if let Err(error) = writeln!(std::io::stdout(), $($arg)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write the report: {error}");
            std::process::exit(1);
        }
    }};
}

#[derive(Parser, Debug)]
#[command(
    name = "panicless",
    version,
    about = "Panicless Library: your books, your server, your AI assistant"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// See and revoke OAuth grants and tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// See OAuth clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// See AI-provider connectors.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Fill the database with a realistic library (benchmarks, demos). The reader's password
    /// is read like `user create`'s.
    Seed {
        #[arg(long, default_value = "reader@bench.example")]
        email: String,
        #[arg(long, default_value_t = 10_000)]
        books: usize,
        #[arg(long, default_value_t = 50_000)]
        readings: usize,
        #[arg(long, default_value_t = 100)]
        users: usize,
    },
    /// Manage the encryption keys of connector secrets.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a user's whole library, as `GET /api/export` does: JSON (a backup that `import`
    /// restores) or a Goodreads-compatible CSV.
    Export {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Json)]
        format: ExportFormatArg,
        /// The file to write; standard output when absent.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Import a file into a user's library, as the API's imports do: a Goodreads or StoryGraph
    /// export, or this library's JSON or CSV export (the format is read from the file).
    Import {
        #[arg(long)]
        user: String,
        file: std::path::PathBuf,
        /// The file's format, when it cannot be told from its first line.
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormatArg {
    Json,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum ConnectorCommand {
    /// List a user's connectors (never their secrets).
    List {
        #[arg(long)]
        user: String,
    },
    /// One connector's status: expiry, last refresh.
    Status { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Re-seal every secret under ENCRYPTION_KEY (older keys in ENCRYPTION_KEYS), in one transaction.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// List live grants (user, client, scopes, issued, expires, last used).
    List,
    /// Revoke a grant, everything of a client (and disable it), or everything of a user.
    Revoke {
        #[arg(long, group = "target")]
        grant: Option<String>,
        #[arg(long, group = "target")]
        client: Option<String>,
        #[arg(long, group = "target")]
        user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// List registered clients.
    List,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from a prompt, or from standard input when it
    /// is not a terminal; never from an argument, where other users could see it.
    Create {
        #[arg(long)]
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// The name shown on pages.
        #[arg(long)]
        name: Option<String>,
    },
    /// List every account.
    List,
    /// Set an account's password (read like `create` reads it): signs it out of every browser
    /// and revokes its first-party tokens, as a change through the API or the page does.
    Password {
        #[arg(long)]
        email: String,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("panicless cannot start; fix the configuration:");
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            crate::allocator::limit_arenas();
            serve(config)
        }
        Command::Migrate => AppState::init(config).map(|_| say!("migrations are up to date")),
        Command::User { command } => user_command(config, command),
        Command::Token { command } => token_command(config, command),
        Command::Client { command } => client_command(config, command),
        Command::Connector { command } => connector_command(config, command),
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_keys(config),
        Command::Export {
            user,
            format,
            output,
        } => export(config, &user, format, output.as_deref()),
        Command::Import { user, file, format } => import(config, &user, &file, format.as_deref()),
        Command::Seed {
            email,
            books,
            readings,
            users,
        } => seed(config, &email, books, readings, users),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    if !config.dev_defaults_in_use.is_empty() {
        log::warn!(
            "\n\n  !!! DEVELOPMENT SECRETS IN USE: {} !!!\n  Fine on your own machine; set them (see .env.example) and APP_ENV=production before exposing this server.\n",
            config.dev_defaults_in_use.join(", ")
        );
    }
    let address = config.bind_address();
    let public_url = config.public_url.clone();
    let state = AppState::init(config)?;
    let purge_state = state.clone();
    let listener = std::net::TcpListener::bind((address.0.as_str(), address.1))
        .map_err(|e| format!("cannot listen on {}:{}: {e}", address.0, address.1))?;
    actix_web::rt::System::new().block_on(async move {
        let server = crate::start(state, listener).map_err(|e| e.to_string())?;
        crate::connectors::refresh::spawn(purge_state.clone());
        crate::oauth::purge::spawn(purge_state);
        // Not `say!`: a server whose standard output is closed still serves.
        let _ = writeln!(
            std::io::stdout(),
            "Panicless Library is running: open {public_url}/"
        );
        server.await.map_err(|e| e.to_string())
    })
}

fn user_command(config: Config, command: UserCommand) -> Result<(), String> {
    let cost = config.bcrypt_cost;
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    match command {
        UserCommand::Create { email, admin, name } => {
            user::validate_email(&email)?;
            let password = read_password()?;
            crate::auth::password::validate(&password)?;
            let hash = bcrypt::hash(password, cost).map_err(|e| e.to_string())?;
            let policy = if admin {
                user::AdminPolicy::Always
            } else {
                user::AdminPolicy::FirstUserOnly
            };
            let created = user::create(
                &mut conn,
                &email,
                &hash,
                name.as_deref(),
                policy,
                db::models::now(),
            )
            .map_err(|e| e.to_string())?;
            say!(
                "created user {} ({}){}",
                created.id,
                created.email,
                if created.is_admin {
                    ", administrator"
                } else {
                    ""
                }
            );
        }
        UserCommand::Password { email } => {
            let found = user::find_by_email(&mut conn, &email)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account has the email {email}"))?;
            let password = read_password()?;
            crate::auth::password::validate(&password)?;
            let hash = bcrypt::hash(password, cost).map_err(|e| e.to_string())?;
            // The rule the API and the page follow: sessions end, first-party tokens are
            // revoked (none is kept: the command is not signed in with one).
            crate::auth::account::set_password(&mut conn, found.id, &hash, None, db::models::now())
                .map_err(|e| e.to_string())?;
            say!(
                "password set for {}; every browser session and first-party token of the account \
                 is ended",
                found.email
            );
        }
        UserCommand::List => {
            let users = user::list(&mut conn).map_err(|e| e.to_string())?;
            say!("{:>6}  {:<40}  {:<5}  created", "id", "email", "admin");
            for u in users {
                say!(
                    "{:>6}  {:<40}  {:<5}  {}",
                    u.id,
                    u.email,
                    if u.is_admin { "yes" } else { "no" },
                    u.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
    }
    Ok(())
}

fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again =
            rpassword::prompt_password("Repeat the password: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords do not match".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn token_command(config: Config, command: TokenCommand) -> Result<(), String> {
    use crate::oauth::grants;
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let now = db::models::now();
    match command {
        TokenCommand::List => {
            let list = grants::list(&mut conn, &grants::GrantFilter::default(), now)
                .map_err(|e| e.to_string())?;
            say!(
                "{:<24}  {:<30}  {:<24}  {:<22}  {:<17}  {:<17}  last used",
                "grant",
                "user",
                "client",
                "scopes",
                "issued",
                "expires"
            );
            for g in list {
                say!(
                    "{:<24}  {:<30}  {:<24}  {:<22}  {:<17}  {:<17}  {}",
                    g.grant_id,
                    g.user_email,
                    g.client_id,
                    g.scope,
                    g.issued_at.format("%Y-%m-%d %H:%M"),
                    g.expires_at.format("%Y-%m-%d %H:%M"),
                    g.last_used_at.map_or_else(
                        || "never".to_string(),
                        |t| t.format("%Y-%m-%d %H:%M").to_string()
                    )
                );
            }
        }
        TokenCommand::Revoke {
            grant,
            client,
            user,
        } => {
            let revoked = match (grant, client, user) {
                (Some(grant), None, None) => grants::revoke(&mut conn, &grant, None, now),
                (None, Some(client), None) => grants::revoke_client(&mut conn, &client, now),
                (None, None, Some(email)) => {
                    match user::find_by_email(&mut conn, &email).map_err(|e| e.to_string())? {
                        Some(u) => grants::revoke_user(&mut conn, u.id, now),
                        None => return Err(format!("no user {email}")),
                    }
                }
                _ => {
                    return Err(
                        "say what to revoke: --grant ID, --client ID or --user EMAIL".into(),
                    )
                }
            }
            .map_err(|e| e.to_string())?;
            say!("revoked {revoked} token(s)");
        }
    }
    Ok(())
}

fn client_command(config: Config, command: ClientCommand) -> Result<(), String> {
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    match command {
        ClientCommand::List => {
            let clients = crate::oauth::clients::list(&mut conn).map_err(|e| e.to_string())?;
            say!(
                "{:<24}  {:<28}  {:<8}  {:<8}  {:<6}  redirect URIs",
                "client id",
                "name",
                "origin",
                "type",
                "state"
            );
            for c in clients {
                say!(
                    "{:<24}  {:<28}  {:<8}  {:<8}  {:<6}  {}",
                    c.client_id,
                    c.client_name,
                    c.origin,
                    if c.is_public() { "public" } else { "secret" },
                    if c.disabled { "off" } else { "on" },
                    c.redirect_uris().join(" ")
                );
            }
        }
    }
    Ok(())
}

fn connector_command(config: Config, command: ConnectorCommand) -> Result<(), String> {
    use crate::connectors::store;
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let show = |c: &store::Connector| {
        say!(
            "{:>5}  {:<24}  {:<12}  {:<8}  {:<13}  {:<18}  expires {}  last refresh {}  next refresh {}",
            c.id,
            c.label,
            c.provider,
            c.kind,
            c.status,
            c.hint.clone().unwrap_or_default(),
            c.expires_at.map_or_else(
                || "never".to_string(),
                |t| t.format("%Y-%m-%d %H:%M").to_string()
            ),
            c.last_refreshed_at.map_or_else(
                || "never".to_string(),
                |t| t.format("%Y-%m-%d %H:%M").to_string()
            ),
            c.expires_at.map_or_else(
                || "none".to_string(),
                |t| (t - chrono::Duration::seconds(crate::connectors::refresh::REFRESH_MARGIN_SECS))
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            ),
        )
    };
    match command {
        ConnectorCommand::List { user: email } => {
            let owner = user::find_by_email(&mut conn, &email)
                .map_err(|e| e.to_string())?
                .ok_or(format!("no user {email}"))?;
            for c in store::list(&mut conn, owner.id).map_err(|e| e.to_string())? {
                show(&c);
            }
        }
        ConnectorCommand::Status { id } => {
            use crate::db::schema::connectors;
            use diesel::prelude::*;
            let owner: i64 = connectors::table
                .find(id)
                .select(connectors::user_id)
                .first(&mut *conn)
                .map_err(|_| format!("no connector {id}"))?;
            show(&store::get(&mut conn, owner, id).map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

fn rotate_keys(config: Config) -> Result<(), String> {
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let count = crate::connectors::store::rotate(&mut conn, &state.keyring, db::models::now())
        .map_err(|e| e.to_string())?;
    say!(
        "re-sealed {count} secret(s) under key {}",
        state.keyring.current_id()
    );
    Ok(())
}

fn seed(
    config: Config,
    email: &str,
    books: usize,
    readings: usize,
    users: usize,
) -> Result<(), String> {
    let cost = config.bcrypt_cost;
    let state = AppState::init(config)?;
    let password = read_password()?;
    crate::auth::password::validate(&password)?;
    let hash = bcrypt::hash(password, cost).map_err(|e| e.to_string())?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let id = crate::seed::seed(
        &mut conn,
        email,
        &hash,
        books,
        readings,
        users,
        db::models::now(),
    )
    .map_err(operator_message)?;
    say!(
        "seeded user {id} ({email}) with {books} books and {readings} readings, and {users} other users, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The account of `email`, for the commands that act on a user's library.
fn account(conn: &mut db::DbConn, email: &str) -> Result<user::User, String> {
    user::find_by_email(conn, email)
        .map_err(operator_message)?
        .ok_or_else(|| format!("no account has the email {email}"))
}

fn export(
    config: Config,
    email: &str,
    format: ExportFormatArg,
    output: Option<&std::path::Path>,
) -> Result<(), String> {
    use crate::library::export;
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let owner = account(&mut conn, email)?;
    let library =
        export::library(&mut conn, owner.id, db::models::now()).map_err(operator_message)?;
    let text = match format {
        ExportFormatArg::Json => {
            serde_json::to_string_pretty(&library).map_err(|e| e.to_string())?
        }
        ExportFormatArg::Csv => export::goodreads_csv(&library).map_err(operator_message)?,
    };
    match output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!(
                "exported {} book(s) of {} to {}",
                library.books.len(),
                owner.email,
                path.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn import(
    config: Config,
    email: &str,
    file: &std::path::Path,
    format: Option<&str>,
) -> Result<(), String> {
    use crate::library::import::{self, Source};
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let source = match format {
        Some(name) => Source::parse(name).ok_or_else(|| {
            format!("unknown format {name}: goodreads, storygraph or panicless")
        })?,
        None => import::detect(&bytes).ok_or_else(|| {
            format!(
                "{}: not a Goodreads, StoryGraph or Panicless export (its first line names none of their columns); say which with --format",
                file.display()
            )
        })?,
    };
    let state = AppState::init(config)?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let owner = account(&mut conn, email)?;
    let report = import::import(&mut conn, owner.id, source, &bytes, db::models::now()).map_err(
        |e| match e {
            crate::error::AppError::Validation(problems) => problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => operator_message(other),
        },
    )?;
    say!(
        "{} rows read as {}: {} created, {} merged, {} unchanged, {} skipped; {} reading(s) added",
        report.rows,
        source.as_str(),
        report.created,
        report.merged,
        report.unchanged,
        report.skipped,
        report.readings_created
    );
    for p in &report.problems {
        say!(
            "  line {}{}: {}{}",
            p.line,
            p.field
                .as_deref()
                .map(|f| format!(", {f}"))
                .unwrap_or_default(),
            p.reason,
            p.value
                .as_deref()
                .map(|v| format!(" ({v:?})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// On the command line the operator may see an internal cause (it is never sent to a client).
fn operator_message(error: crate::error::AppError) -> String {
    error.report()
}
