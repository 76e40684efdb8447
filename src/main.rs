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
    /// Bring a community over from other software.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// Zeste de Savoir: the JSON of `python manage.py dumpdata auth.group auth.user member.profile member.ban
    /// member.karmanote member.bannedemailprovider`. One transaction: a broken file or a failure writes nothing.
    Zds(ZdsImport),
}

#[derive(clap::Args)]
struct ZdsImport {
    /// The dump.
    file: std::path::PathBuf,
    /// Read and check everything, print the report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The zone of the dump's naive times (Django's TIME_ZONE with USE_TZ = False).
    #[arg(long, default_value = "Europe/Paris")]
    time_zone: String,
    /// The group whose members are moderators (as well as Django's is_staff).
    #[arg(long, default_value = "staff")]
    staff_group: String,
    /// The group whose members are bots: they join MEMBERD_BOT_GROUP.
    #[arg(long, default_value = "bot")]
    bot_group: String,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
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
        Command::Import {
            source: ImportSource::Zds(import),
        } => tokio::task::spawn_blocking(move || import_zds(&config, import)).await??,
        Command::Openapi => {}
    }
    Ok(())
}

fn import_zds(config: &Config, import: ZdsImport) -> anyhow::Result<()> {
    let time_zone = import.time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
        anyhow::anyhow!(
            "--time-zone: {} is not a time zone such as Europe/Paris",
            import.time_zone
        )
    })?;
    let clock = memberd::clock::Clock::system();
    app::prepare_database(config, &clock)?;
    let mut conn = memberd::db::connect_once(config.database_url.expose())?;
    let options = memberd::import::service::Options {
        file: import.file,
        dry_run: import.dry_run,
        time_zone,
        staff_group: import.staff_group,
        bot_group: import.bot_group,
        memberd_bot_group: config.bot_group.clone(),
        ip_retention: chrono::Duration::days(i64::from(config.ip_retention_days)),
    };
    let report = memberd::import::service::run(&mut conn, &options, clock.now())?;
    println!("{report}");
    if let Some(path) = import.report {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
            .map_err(|e| anyhow::anyhow!("--report: cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
