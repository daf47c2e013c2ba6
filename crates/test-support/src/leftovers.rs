//! Removal of what earlier test runs left behind. Every test creates a database and a vhost and
//! does not wait to drop them, so `scripts/test.sh` clears the leftovers before the tests run
//! (binary `remove-test-leftovers`).
//!
//! Tests of another run may be running at the same time against the same PostgreSQL and
//! RabbitMQ, so a name alone does not make a leftover. Each database and vhost carries the pid of
//! the process that created it ([`owned_name`]), and only those whose process is gone are
//! removed; one still in use (a session on the database, a connection to the vhost) is kept too.
//! Names without a pid (from before this scheme) count as ownerless and fall back on the in-use
//! check alone. Pids are read from this machine's `/proc`: the tests and this cleanup run on the
//! same host as the infrastructure.

use crate::database::admin_url;
use crate::rabbit::{api_base, management};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};

/// `<prefix><sep><pid of this process><sep><random id>`: a database or vhost name that tells
/// which process created it.
pub fn owned_name(prefix: &str, sep: char) -> String {
    format!(
        "{prefix}{sep}{}{sep}{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The pid in a name made by [`owned_name`], if it has one.
fn owner_pid(name: &str, sep: char) -> Option<u32> {
    let mut parts = name.rsplitn(3, sep);
    let id = parts.next()?;
    let pid = parts.next()?;
    parts.next()?;
    let is_id = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let is_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    if is_id && is_pid {
        pid.parse().ok()
    } else {
        None
    }
}

/// Whether the process that created `name` may still use it: true while that process exists.
fn owner_alive(name: &str, sep: char) -> bool {
    owner_pid(name, sep).is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Drops every database `select` accepts whose creating process is gone and that has no session,
/// and returns their names. `DROP DATABASE` refuses a database with sessions, which is what
/// keeps one in use.
pub async fn remove_leftover_databases(
    select: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .map_err(|e| format!("connect to PostgreSQL: {e}"))?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE NOT datistemplate")
            .fetch_all(&mut admin)
            .await
            .map_err(|e| format!("list databases: {e}"))?;
    let mut dropped = Vec::new();
    for name in names {
        if !select(&name) || owner_alive(&name, '_') {
            continue;
        }
        let sql = format!(r#"DROP DATABASE IF EXISTS "{}""#, name.replace('"', "\"\""));
        if admin.execute(sql.as_str()).await.is_ok() {
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// Deletes every vhost `select` accepts whose creating process is gone and that has no
/// connection, and returns their names.
pub async fn remove_leftover_vhosts(select: impl Fn(&str) -> bool) -> Result<Vec<String>, String> {
    let get = |path: String| async move {
        management(reqwest::Method::GET, &path)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET {path}: {e}"))?
            .json::<Vec<Value>>()
            .await
            .map_err(|e| format!("GET {path}: {e}"))
    };
    let mut deleted = Vec::new();
    for vhost in get("/api/vhosts?columns=name".to_owned()).await? {
        let Some(name) = vhost["name"].as_str() else {
            continue;
        };
        if !select(name) || owner_alive(name, '-') {
            continue;
        }
        if !get(format!("/api/vhosts/{name}/connections"))
            .await?
            .is_empty()
        {
            continue;
        }
        management(reqwest::Method::DELETE, &format!("/api/vhosts/{name}"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("delete vhost {name} at {}: {e}", api_base()))?;
        deleted.push(name.to_owned());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_names_carry_this_process_as_their_live_owner() {
        let db = owned_name("test_shop", '_');
        assert_eq!(owner_pid(&db, '_'), Some(std::process::id()));
        assert!(owner_alive(&db, '_'));
        let vhost = owned_name("test", '-');
        assert_eq!(owner_pid(&vhost, '-'), Some(std::process::id()));
    }

    /// A pid whose process has exited (and been reaped).
    fn gone_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        child.wait().expect("wait for true");
        child.id()
    }

    /// Against the real PostgreSQL and RabbitMQ, limited to the names this test creates, so
    /// other test runs are never touched.
    #[tokio::test]
    async fn leftovers_of_gone_processes_are_removed_and_those_of_live_ones_kept() {
        let gone = gone_pid();
        let id = uuid::Uuid::new_v4().simple();
        let (gone_db, live_db) = (
            format!("test_leftover_{gone}_{id}"),
            owned_name("test_leftover", '_'),
        );
        let (gone_vhost, live_vhost) = (format!("test-{gone}-{id}"), owned_name("test", '-'));
        let mut admin = PgConnection::connect(&admin_url()).await.expect("connect");
        for db in [&gone_db, &live_db] {
            admin
                .execute(format!(r#"CREATE DATABASE "{db}""#).as_str())
                .await
                .expect("create database");
        }
        for vhost in [&gone_vhost, &live_vhost] {
            management(reqwest::Method::PUT, &format!("/api/vhosts/{vhost}"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("create vhost");
        }
        let dbs = [gone_db.clone(), live_db.clone()];
        let vhosts = [gone_vhost.clone(), live_vhost.clone()];

        let dropped = remove_leftover_databases(|n| dbs.iter().any(|d| d == n)).await;
        let deleted = remove_leftover_vhosts(|n| vhosts.iter().any(|v| v == n)).await;

        assert_eq!(dropped, Ok(vec![gone_db]));
        assert_eq!(deleted, Ok(vec![gone_vhost]));
        admin
            .execute(format!(r#"DROP DATABASE "{live_db}""#).as_str())
            .await
            .expect("the live owner's database is still there");
        management(
            reqwest::Method::DELETE,
            &format!("/api/vhosts/{live_vhost}"),
        )
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the live owner's vhost is still there");
    }

    #[test]
    fn names_without_a_pid_have_no_owner() {
        let id = uuid::Uuid::new_v4().simple().to_string();
        assert_eq!(owner_pid(&format!("test_shop_{id}"), '_'), None);
        assert_eq!(owner_pid(&format!("test-{id}"), '-'), None);
        let short: String = id.chars().take(8).collect();
        assert_eq!(owner_pid(&format!("test_shop_12_{short}"), '_'), None);
        assert!(!owner_alive(&format!("test-{id}"), '-'));
    }
}
