//! A service's database schema: its own migrations plus shared ones (the outbox table of
//! `printflow-messaging`), run as ONE sqlx migrator.
//!
//! Why one migrator rather than two run one after the other: sqlx refuses to run a migrator when
//! the database records an applied migration the migrator does not know (`VersionMissing`), unless
//! `ignore_missing` is set, and setting it would also hide a real mistake (a service binary older
//! than its database). A combined set knows every version, so the check stays on. Shared
//! migrations use versions in a range services never use (the outbox is `9000000000000001`), so
//! they sort after every service migration and cannot collide; [`Schema::new`] refuses duplicates.

use sha2::{Digest, Sha256};
use sqlx::migrate::{MigrateError, Migration, Migrator};
use sqlx::PgPool;
use std::borrow::Cow;

/// Every migration of one service, in version order.
#[derive(Debug)]
pub struct Schema {
    /// The combined set (sqlx 0.8 exposes the fields so a migrator can be assembled).
    migrator: Migrator,
}

impl Schema {
    /// Combines migration sets (e.g. the service's `sqlx::migrate!()` and
    /// `printflow_messaging::outbox::MIGRATOR`).
    ///
    /// # Panics
    /// When two sets share a version: that is a build mistake, found by the first test that
    /// touches the schema, never by a running service.
    pub fn new(sets: &[&Migrator]) -> Schema {
        let mut migrations: Vec<Migration> =
            sets.iter().flat_map(|set| set.iter().cloned()).collect();
        migrations.sort_by_key(|m| m.version);
        if let Some(pair) = migrations.windows(2).find(|w| w[0].version == w[1].version) {
            panic!(
                "migration version {} is defined twice ({} and {})",
                pair[0].version, pair[0].description, pair[1].description
            );
        }
        Schema {
            migrator: Migrator {
                migrations: Cow::Owned(migrations),
                // Every applied version must be one of ours (see the module docs).
                ignore_missing: false,
                locking: true,
                no_tx: false,
            },
        }
    }

    /// The combined migrator.
    pub fn migrator(&self) -> &Migrator {
        &self.migrator
    }

    /// Brings `pool`'s database up to date (idempotent; concurrent callers wait on sqlx's
    /// advisory lock).
    pub async fn migrate(&self, pool: &PgPool) -> Result<(), MigrateError> {
        self.migrator.run(pool).await
    }

    /// A short digest of every migration's version and checksum. Tests name their template
    /// database with it, so a schema change builds a fresh template.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        for migration in self.migrator.iter() {
            hash.update(migration.version.to_be_bytes());
            hash.update(&migration.checksum);
        }
        hex::encode(&hash.finalize()[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::migrate::MigrationType;

    fn set(versions: &[(i64, &'static str)]) -> Migrator {
        Migrator {
            migrations: Cow::Owned(
                versions
                    .iter()
                    .map(|(v, sql)| {
                        Migration::new(
                            *v,
                            Cow::Borrowed("m"),
                            MigrationType::Simple,
                            Cow::Borrowed(*sql),
                            false,
                        )
                    })
                    .collect(),
            ),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        }
    }

    #[test]
    fn sets_are_merged_in_version_order() {
        let shared = set(&[(9_000_000_000_000_001, "SELECT 3")]);
        let service = set(&[(2, "SELECT 2"), (1, "SELECT 1")]);
        let schema = Schema::new(&[&shared, &service]);
        let versions: Vec<i64> = schema.migrator().iter().map(|m| m.version).collect();
        assert_eq!(versions, [1, 2, 9_000_000_000_000_001]);
    }

    #[test]
    fn fingerprint_follows_the_content() {
        let a = Schema::new(&[&set(&[(1, "SELECT 1")])]);
        let same = Schema::new(&[&set(&[(1, "SELECT 1")])]);
        let changed = Schema::new(&[&set(&[(1, "SELECT 2")])]);
        assert_eq!(a.fingerprint(), same.fingerprint());
        assert_ne!(a.fingerprint(), changed.fingerprint());
        assert_eq!(a.fingerprint().len(), 12);
    }

    #[test]
    #[should_panic(expected = "defined twice")]
    fn duplicate_versions_are_refused() {
        Schema::new(&[&set(&[(1, "SELECT 1")]), &set(&[(1, "SELECT 2")])]);
    }
}
