//! The `memberd` binary: parses the command line and hands over to the library.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memberd::app::{self, Application, Options};
use memberd::config::Config;
use memberd::members::service::{SuperuserInput, create_superuser};

#[derive(Parser)]
#[command(
    name = "memberd",
    version,
    about = "Membership and moderation service for online communities"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply pending migrations, serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an active superuser; the password comes from MEMBERD_PASSWORD or standard input.
    CreateSuperuser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
    },
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> ExitCode {
    one_malloc_arena();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("memberd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives threads that allocate at the same time arenas of their own,
/// up to eight per core, and each keeps megabytes it no longer uses: with
/// two 19 MiB password-hashing blocks in flight, that alone took memberd past
/// 64 MiB under login load. An operator's MALLOC_ARENA_MAX wins. (glibc's
/// per-thread caches of small blocks cost memory too, but have no mallopt:
/// `GLIBC_TUNABLES`, read only at start, turns them off — the README says
/// where.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only sets an allocator parameter; it is called before
    // any other thread exists. The crate's one unsafe block.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", app::openapi_document().to_pretty_json()?);
        return Ok(());
    }
    // A missing .env is normal; a broken one is worth knowing about.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        anyhow::bail!(".env: {error}");
    }
    let config = Config::from_env()?;
    memberd::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let application = Application::build(config, Options::default()).await?;
            tracing::info!(
                port = application.port(),
                "memberd is serving; Swagger UI at /swagger-ui/"
            );
            let state = application.state();
            application.run_until_stopped().await?;
            state.notifications.stop();
        }
        Command::Migrate => tokio::task::spawn_blocking(move || app::migrate(&config)).await??,
        Command::CreateSuperuser { username, email } => {
            let password = match std::env::var("MEMBERD_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut input = String::new();
                    std::io::stdin().read_to_string(&mut input)?;
                    input.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let mut config = config;
            // Only the state is needed, not a listening socket.
            config.bind = "127.0.0.1:0".parse()?;
            let application = Application::build(config, Options::default()).await?;
            let state = application.state();
            let member = create_superuser(
                &state,
                SuperuserInput {
                    username,
                    email,
                    password,
                },
            )
            .await
            .map_err(|error| match error {
                memberd::error::AppError::Validation(errors) => anyhow::anyhow!(
                    "{}",
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                other => anyhow::anyhow!("{other}"),
            })?;
            state.notifications.stop();
            println!("created superuser {} (id {})", member.username, member.id);
        }
        Command::Openapi => {}
    }
    Ok(())
}
