//! The settings every service reads the same way, under its own prefix (`SHOP_`, `CRM_`, `MES_`):
//! where to listen, which database and how large a pool, which broker.

use printflow_config::{parse_or, string_or, ConfigError, ConfigSource};
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Where the HTTP server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Interface to bind (`<P>_HTTP_HOST`, default `127.0.0.1`).
    pub host: String,
    /// Port to bind; 0 picks a free one, as tests do (`<P>_HTTP_PORT`).
    pub port: u16,
}

impl HttpSettings {
    /// Reads `<prefix>_HTTP_HOST` and `<prefix>_HTTP_PORT` (default `default_port`).
    pub fn from_source(
        src: &dyn ConfigSource,
        prefix: &str,
        default_port: u16,
    ) -> Result<HttpSettings, ConfigError> {
        Ok(HttpSettings {
            host: string_or(src, &format!("{prefix}_HTTP_HOST"), "127.0.0.1"),
            port: parse_or(src, &format!("{prefix}_HTTP_PORT"), default_port)?,
        })
    }
}

/// The PostgreSQL pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// Connection URL (`<P>_DATABASE_URL`, default
    /// `postgres://printflow:printflow@127.0.0.1:5432/<default database>`).
    pub url: String,
    /// Most connections the pool opens (`<P>_DATABASE_MAX_CONNECTIONS`, at least 1).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing
    /// (`<P>_DATABASE_ACQUIRE_TIMEOUT_MS`, default 3000, at least 1): an exhausted pool answers
    /// an error quickly instead of queueing callers without bound.
    pub acquire_timeout: Duration,
}

/// A pooled connection that sat idle at least this long is pinged before it is handed out
/// (see [`DatabaseSettings::pool_options`]).
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

impl DatabaseSettings {
    /// The pool these settings describe. sqlx pings every connection on every acquire by
    /// default: one round trip more for each transaction, about one in five of the services'
    /// round trips under the order benchmark (docs/benchmarks.md). Here only a connection idle
    /// for `ping_if_idle_for` or longer is pinged (and replaced if dead): one that waited long
    /// enough for the server to restart or a firewall to forget it. A connection in use a moment
    /// ago is as good as its last statement; if it breaks now, that one statement fails, as it
    /// could right after a successful ping.
    pub fn pool_options(&self, ping_if_idle_for: Duration) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= ping_if_idle_for {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// Reads `<prefix>_DATABASE_URL`, `<prefix>_DATABASE_MAX_CONNECTIONS` (default
    /// `default_max_connections`) and `<prefix>_DATABASE_ACQUIRE_TIMEOUT_MS`.
    pub fn from_source(
        src: &dyn ConfigSource,
        prefix: &str,
        default_database: &str,
        default_max_connections: u32,
    ) -> Result<DatabaseSettings, ConfigError> {
        let max_key = format!("{prefix}_DATABASE_MAX_CONNECTIONS");
        let max_connections: u32 = parse_or(src, &max_key, default_max_connections)?;
        at_least_one(&max_key, max_connections.into())?;
        let timeout_key = format!("{prefix}_DATABASE_ACQUIRE_TIMEOUT_MS");
        let acquire_timeout_ms: u64 = parse_or(src, &timeout_key, 3_000)?;
        at_least_one(&timeout_key, acquire_timeout_ms)?;
        Ok(DatabaseSettings {
            url: string_or(
                src,
                &format!("{prefix}_DATABASE_URL"),
                &format!("postgres://printflow:printflow@127.0.0.1:5432/{default_database}"),
            ),
            max_connections,
            acquire_timeout: Duration::from_millis(acquire_timeout_ms),
        })
    }
}

/// The RabbitMQ connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    /// AMQP URL (`<P>_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`); the nodes
    /// of a cluster as several URLs separated by commas, tried in turn.
    pub url: String,
}

impl BrokerSettings {
    /// Reads `<prefix>_AMQP_URL`.
    pub fn from_source(src: &dyn ConfigSource, prefix: &str) -> BrokerSettings {
        BrokerSettings {
            url: string_or(
                src,
                &format!("{prefix}_AMQP_URL"),
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            ),
        }
    }
}

/// The outbox's housekeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSettings {
    /// How long sent rows are kept before they are deleted (`<P>_OUTBOX_RETENTION_HOURS`,
    /// default 168, a week; at least 1). CRM's reconciler republishes an order's `order.created`
    /// from its outbox, so CRM refuses a retention shorter than its reconcile window.
    pub retention: Duration,
}

impl OutboxSettings {
    /// Reads `<prefix>_OUTBOX_RETENTION_HOURS`.
    pub fn from_source(
        src: &dyn ConfigSource,
        prefix: &str,
    ) -> Result<OutboxSettings, ConfigError> {
        let key = format!("{prefix}_OUTBOX_RETENTION_HOURS");
        let hours: u64 = parse_or(src, &key, 168)?;
        at_least_one(&key, hours)?;
        Ok(OutboxSettings {
            retention: Duration::from_secs(hours.saturating_mul(3600)),
        })
    }
}

/// 0 connections would never serve a query and a 0 ms timeout would fail every acquire.
fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError {
            key: key.to_owned(),
            value: "0".to_owned(),
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_follow_the_prefix() {
        let empty: HashMap<&str, String> = HashMap::new();
        let http = HttpSettings::from_source(&empty, "CRM", 8081).unwrap();
        assert_eq!(http.host, "127.0.0.1");
        assert_eq!(http.port, 8081);
        let db = DatabaseSettings::from_source(&empty, "CRM", "printflow_crm", 10).unwrap();
        assert_eq!(
            db.url,
            "postgres://printflow:printflow@127.0.0.1:5432/printflow_crm"
        );
        assert_eq!(db.max_connections, 10);
        assert_eq!(db.acquire_timeout, Duration::from_secs(3));
        let broker = BrokerSettings::from_source(&empty, "CRM");
        assert_eq!(broker.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        let outbox = OutboxSettings::from_source(&empty, "CRM").unwrap();
        assert_eq!(outbox.retention, Duration::from_secs(7 * 24 * 3600));
    }

    #[test]
    fn overrides_are_read_and_nonsense_is_named() {
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("MES_HTTP_PORT", "0".into());
        map.insert("MES_DATABASE_MAX_CONNECTIONS", "3".into());
        map.insert("MES_DATABASE_ACQUIRE_TIMEOUT_MS", "250".into());
        assert_eq!(
            HttpSettings::from_source(&map, "MES", 8082).unwrap().port,
            0
        );
        let db = DatabaseSettings::from_source(&map, "MES", "printflow_mes", 16).unwrap();
        assert_eq!(db.max_connections, 3);
        assert_eq!(db.acquire_timeout, Duration::from_millis(250));

        map.insert("MES_OUTBOX_RETENTION_HOURS", "2".into());
        assert_eq!(
            OutboxSettings::from_source(&map, "MES").unwrap().retention,
            Duration::from_secs(7200)
        );

        for (key, bad) in [
            ("MES_DATABASE_MAX_CONNECTIONS", "0"),
            ("MES_DATABASE_MAX_CONNECTIONS", "many"),
            ("MES_DATABASE_ACQUIRE_TIMEOUT_MS", "0"),
        ] {
            let mut map: HashMap<&str, String> = HashMap::new();
            map.insert(key, bad.into());
            let err = DatabaseSettings::from_source(&map, "MES", "printflow_mes", 16).unwrap_err();
            assert_eq!(err.key, key, "{bad}");
        }
        for bad in ["0", "a week"] {
            let mut map: HashMap<&str, String> = HashMap::new();
            map.insert("MES_OUTBOX_RETENTION_HOURS", bad.into());
            let err = OutboxSettings::from_source(&map, "MES").unwrap_err();
            assert_eq!(err.key, "MES_OUTBOX_RETENTION_HOURS", "{bad}");
        }
    }
}
