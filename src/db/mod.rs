//! The connection pool, database creation, migrations, and the helpers that
//! keep every diesel call off the async event loop.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::r2d2::R2D2Connection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use url::Url;

use crate::error::{Answer, Answers, AppError, ErrorCode};

pub mod batch;
pub mod notify;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Taken around migrations so that replicas starting together apply them once.
const MIGRATION_LOCK_KEY: i64 = 0x006d_656d_6265_7264; // "memberd"

pub type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Whoever keeps copies of rows (the member cache): told what changed, by this
/// process's own units of work and by the listener, which hears every replica.
pub trait ChangeSink: Send + Sync {
    /// One change, as the `change_notifications` triggers name it.
    fn changed(&self, what: &str);
    /// What changed is unknown: no copy may be kept.
    fn forget_everything(&self);
    /// The listener looked: every change committed before the look has been
    /// read, so copies may be trusted for [`notify::HEARTBEAT_DEADLINE`] more.
    fn heard_heartbeat(&self);
    /// The listener may be missing changes: copies are not trusted until it
    /// looks again.
    fn distrust(&self);
}

/// The pool plus the way it is used: one blocking-pool task per unit of work.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    changes: Option<Arc<dyn ChangeSink>>,
}

/// Every operation that reaches the database may find it gone or busy.
impl Answers for Db {
    fn answers() -> Vec<Answer> {
        vec![Answer::new(503, ErrorCode::ServiceUnavailable)]
    }
}

impl Db {
    /// Builds the pool once per process. Checkout waits at most a few seconds;
    /// past that a request fails with 503 rather than queueing forever.
    ///
    /// Connections are not pinged at checkout: that was a round trip before
    /// every unit of work (two of a login's seven). A connection that broke
    /// meanwhile (PostgreSQL restarted) fails its request with 503, and is
    /// dropped from the pool ([`Db::read`]).
    pub fn connect(database_url: &str, max_size: u32) -> anyhow::Result<Self> {
        let manager = ConnectionManager::<PgConnection>::new(database_url);
        let pool = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(3))
            .build(manager)
            .with_context(|| format!("cannot open a connection pool to {}", describe(database_url)))?;
        Ok(Self { pool, changes: None })
    }

    /// Tells `changes` what each unit of work changed, before the work's
    /// result is returned: this process never answers from a copy older than
    /// its own writes, even before the notification of them arrives.
    pub fn reporting_changes_to(self, changes: Arc<dyn ChangeSink>) -> Self {
        Self {
            changes: Some(changes),
            ..self
        }
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let changes = self.changes.clone();
        self.read(move |conn| {
            let result = work(conn);
            if let Some(changes) = changes {
                report_changes(conn, &*changes);
            }
            result
        })
        .await
    }

    /// Runs `work`, which only reads, with a pooled connection on the blocking
    /// thread pool: it skips the round trip that asks what the work changed.
    pub async fn read<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            match work(&mut conn) {
                // Connections are not pinged before use (see `connect`): an
                // unexpected failure may be that PostgreSQL closed this one.
                Err(error @ (AppError::Internal(_) | AppError::Unavailable(_))) if conn.ping().is_err() => {
                    // What the pool drops when the connection comes back.
                    AnsiTransactionManager::transaction_manager_status_mut(&mut *conn).set_in_error();
                    tracing::warn!(%error, "a database connection was lost");
                    Err(AppError::Unavailable("the database connection was lost".into()))
                }
                result => result,
            }
        })
        .await
        .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// Runs `work` as one transaction: everything it writes, events included,
    /// commits together or not at all.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| conn.transaction(work)).await
    }

    /// Like [`Db::transaction`], for work whose last statement takes what the
    /// transaction changed (`memberd_take_changes()`) and which returns it with
    /// its result: it saves the round trip that would ask after the commit.
    pub async fn transaction_reporting_changes<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection) -> Result<(T, String), AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.transaction_begun_by("BEGIN", work).await
    }

    /// [`Db::transaction_reporting_changes`] with the transaction opened by
    /// `begin`: `BEGIN` and the `SET LOCAL`s it needs, in one round trip.
    pub async fn transaction_begun_by<T, F>(&self, begin: &'static str, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection) -> Result<(T, String), AppError> + Send + 'static,
        T: Send + 'static,
    {
        let changes = self.changes.clone();
        self.read(move |conn| {
            let (result, changed) = in_transaction(conn, begin, work)?;
            if let Some(changes) = changes {
                report(&*changes, &changed);
            }
            Ok(result)
        })
        .await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

diesel::define_sql_function! {
    /// What this session's work changed since it last asked (see the
    /// `change_notifications` migration), forgotten as it is read. Work run
    /// by [`Db::transaction_reporting_changes`] returns it from its last
    /// statement (`RETURNING memberd_take_changes()`).
    fn memberd_take_changes() -> diesel::sql_types::Text;
}

/// Reports what this connection's work changed, in one round trip. If that
/// cannot be read, nothing copied can be trusted.
fn report_changes(conn: &mut PgConnection, changes: &dyn ChangeSink) {
    match diesel::select(memberd_take_changes()).get_result::<String>(conn) {
        Ok(changed) => report(changes, &changed),
        Err(error) => {
            tracing::warn!(%error, "could not read what a unit of work changed; forgetting every copy");
            changes.forget_everything();
        }
    }
}

/// Reports each change `memberd_take_changes()` named.
/// What diesel's `transaction` does, begun by `begin`.
fn in_transaction<T>(
    conn: &mut PgConnection,
    begin: &str,
    work: impl FnOnce(&mut PgConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(conn, begin) {
        // BEGIN may have run before what follows it failed: a connection
        // that may be inside a transaction goes back to the pool as broken,
        // to be dropped rather than handed out again.
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
        return Err(error.into());
    }
    match work(conn) {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is the answer; a rollback that fails leaves
            // the connection marked broken, which the pool drops.
            let _ = AnsiTransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

fn report(changes: &dyn ChangeSink, changed: &str) {
    for what in changed.split_whitespace() {
        changes.changed(what);
    }
}

/// SQL written by hand that each connection keeps prepared, for queries the
/// query builder cannot say (unnest, data-modifying CTEs). `diesel::sql_query`
/// is parsed and planned by PostgreSQL on every call, which on a hot path
/// costs more than running it.
///
/// The statement refers to its parameters as `$1`, `$2`, … in the order they
/// are bound. Diesel only writes a parameter's `$n` where the parameter is
/// pushed, so they are all pushed first, inside a leading comment:
/// `/* $1 $2 */ SELECT … $2 … $1`. The text is the same on every call, which
/// is what diesel keys its statement cache by.
#[must_use = "a query runs only when loaded or executed"]
pub struct Prepared<'a> {
    sql: &'static str,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

pub fn prepared(sql: &'static str) -> Prepared<'static> {
    Prepared { sql, binds: Vec::new() }
}

/// One column of a batch's rows, bound as an array parameter of a prepared
/// statement that `unnest`s its columns back into rows.
pub fn column<'a, S, T>(rows: &'a [S], value: impl Fn(&'a S) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

impl<'a> Prepared<'a> {
    pub fn bind<ST, T>(self, value: T) -> Prepared<'a>
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + Send + 'a,
        ST: Send + 'a,
    {
        let mut binds = self.binds;
        binds.push(Box::new(Bind::<ST, T> {
            value,
            sql_type: PhantomData,
        }));
        Prepared { sql: self.sql, binds }
    }
}

struct Bind<ST, T> {
    value: T,
    sql_type: PhantomData<ST>,
}

impl<ST, T> QueryFragment<Pg> for Bind<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("/*");
        for bind in &self.binds {
            out.push_sql(" ");
            bind.walk_ast(out.reborrow())?;
        }
        out.push_sql(" */ ");
        out.push_sql(self.sql);
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // Keyed by its text and parameter types rather than by a Rust type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for Prepared<'_> {}

/// `host:port/database` of a URL, without credentials, for messages.
pub fn describe(database_url: &str) -> String {
    match Url::parse(database_url) {
        // libpq's `host` parameter (a socket directory, say) wins over the authority.
        Ok(url) => format!(
            "{}:{}{}",
            url.query_pairs()
                .find(|(key, _)| key == "host")
                .map(|(_, host)| host.into_owned())
                .or_else(|| url.host_str().filter(|host| !host.is_empty()).map(str::to_string))
                .unwrap_or_else(|| "localhost".into()),
            url.port().unwrap_or(5432),
            url.path()
        ),
        Err(_) => "an unparsable DATABASE_URL".into(),
    }
}

fn unreachable_hint(database_url: &str) -> String {
    format!(
        "could not reach PostgreSQL at {} (from DATABASE_URL); start PostgreSQL there, \
         or point DATABASE_URL elsewhere, e.g. DATABASE_URL=postgres://user:password@host:5432/memberd",
        describe(database_url)
    )
}

/// Creates the database named in `database_url` when it does not exist yet,
/// connecting to the server's `postgres` database to do so.
pub fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    match PgConnection::establish(database_url) {
        Ok(_) => return Ok(()),
        Err(ConnectionError::BadConnection(message)) if message.contains("does not exist") => {}
        Err(error) => {
            return Err(anyhow::anyhow!("{error}").context(unreachable_hint(database_url)));
        }
    }
    let mut url = Url::parse(database_url).context("DATABASE_URL is not a URL")?;
    let name = url.path().trim_start_matches('/').to_string();
    url.set_path("/postgres");
    let mut admin = PgConnection::establish(url.as_str())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| unreachable_hint(database_url))?;
    let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(statement).execute(&mut admin) {
        Ok(_) => {
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        // Another replica created it in the meantime.
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("already exists") => Ok(()),
        Err(error) => Err(anyhow::Error::new(error).context(format!("cannot create database {name}"))),
    }
}

/// Applies pending migrations while holding an advisory lock.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<()> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let result = conn.run_pending_migrations(MIGRATIONS).map(|applied| applied.len());
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let applied = result.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    if applied > 0 {
        tracing::info!(applied, "applied migrations");
    }
    Ok(())
}

/// Opens one connection for start-up work, with the friendly message when
/// PostgreSQL is not there.
pub fn connect_once(database_url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::establish(database_url)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| unreachable_hint(database_url))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_database_is_described_by_where_it_is_never_by_its_password() {
        assert_eq!(
            describe("postgres://kim:secret@db.example:6543/memberd"),
            "db.example:6543/memberd"
        );
        assert_eq!(
            describe("postgres://127.0.0.1/memberd?sslmode=disable"),
            "127.0.0.1:5432/memberd"
        );
        assert_eq!(
            describe("postgres:///memberd?host=/var/run/postgresql&user=postgres"),
            "/var/run/postgresql:5432/memberd"
        );
        assert_eq!(describe("not a url"), "an unparsable DATABASE_URL");
    }
}
