//! One database per test, cloned from a template that is migrated once per schema version.
//!
//! Cloning (`CREATE DATABASE ... TEMPLATE`) takes milliseconds, while migrating (and seeding the
//! catalog) takes seconds; the template is shared by every test process and rebuilt only when the
//! migrations change (its name carries their fingerprint).

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::str::FromStr;

/// A fresh, migrated database for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Pool on the test database.
    pub pool: PgPool,
    /// Its connection URL, for a service under test.
    pub url: String,
    /// Its name.
    pub name: String,
}

pub(crate) fn admin_url() -> String {
    std::env::var("PRINTFLOW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://printflow:printflow@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(db: &str) -> String {
    let opts = PgConnectOptions::from_str(&admin_url()).expect("valid admin URL");
    let base = admin_url();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("admin URL ends with /database");
    let _ = opts;
    format!("{prefix}/{db}")
}

/// A short digest of the migration set, for the template's name.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(&h.finalize()[..6])
}

/// Migrates a freshly created database.
pub type Migrate = for<'a> fn(&'a PgPool) -> BoxFuture<'a, Result<(), String>>;

impl TestDatabase {
    /// A new database for `service`, cloned from the template for `fingerprint`, which is built
    /// with `migrate` the first time any test asks for it.
    pub async fn new(service: &str, fingerprint: &str, migrate: Migrate) -> TestDatabase {
        let template = format!("tmpl_{service}_{fingerprint}");
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect to PostgreSQL as the test admin (is scripts/infra.sh up running?)");
        ensure_template(&mut admin, &template, migrate).await;
        // The creating process in the name: crate::leftovers keeps databases whose test runs.
        let name = crate::names::owned_name(&format!("test_{service}"), '_');
        admin
            .execute(format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#).as_str())
            .await
            .expect("clone template database");
        let url = url_for(&name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .expect("connect to test database");
        TestDatabase { pool, url, name }
    }
}

async fn ensure_template(admin: &mut PgConnection, template: &str, migrate: Migrate) {
    // A session advisory lock serialises template builds across test processes.
    let key = i64::from_be_bytes(Sha256::digest(template.as_bytes())[..8].try_into().unwrap());
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *admin)
        .await
        .expect("advisory lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut *admin)
            .await
            .expect("look up template");
    if !exists {
        // Build under a temporary name and rename at the end, so a build that died half-way
        // never passes for a finished template.
        let building = format!("{template}_building");
        admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{building}""#).as_str())
            .await
            .expect("drop stale template build");
        admin
            .execute(format!(r#"CREATE DATABASE "{building}""#).as_str())
            .await
            .expect("create template");
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url_for(&building))
            .await
            .expect("connect to template");
        migrate(&pool).await.expect("migrate template");
        pool.close().await;
        // PostgreSQL refuses to rename (or copy) a database that has a session. `close` does not
        // always catch a connection that was on its way back to the pool when it was called, so
        // end any client session still on the build (it is ours alone), then wait until none is
        // left. Only client sessions: an autovacuum worker may be analysing the freshly migrated
        // tables, it is a superuser process this role may not end, and the rename itself stops
        // it (PostgreSQL signals autovacuum workers in the way of a rename).
        let building_name = building.clone();
        let admin_ref = &mut *admin;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .bind(&building_name)
        .execute(&mut *admin_ref)
        .await
        .expect("end sessions on the template build");
        let mut idle = false;
        for _ in 0..200 {
            let sessions: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = $1 AND backend_type = 'client backend'",
            )
            .bind(&building_name)
            .fetch_one(&mut *admin_ref)
            .await
            .expect("count template sessions");
            if sessions == 0 {
                idle = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(idle, "template {building} still has sessions after 10 s");
        admin_ref
            .execute(format!(r#"ALTER DATABASE "{building}" RENAME TO "{template}""#).as_str())
            .await
            .expect("publish template");
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *admin)
        .await
        .expect("advisory unlock");
}
