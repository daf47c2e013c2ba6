//! Where saved model files live. [`ModelStore`] is the seam: the local directory store is what
//! runs today, an object store can replace it without touching the design code.
//!
//! Durability is what seed point 3 ("loss of a saved 3D schema file") is about: a `put` either
//! leaves the complete file under its key or nothing (temp file, fsync, rename, fsync of the
//! directory), and the caller records a version only after `put` returned.
//!
//! The design code goes through [`write_traced`] and [`read_traced`], so every store access is
//! a span (`model_store.write` / `model_store.read`) whatever the store implementation.

use async_trait::async_trait;
use std::fmt::Debug;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use tracing::field::Empty;
use tracing::Instrument;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key that is empty, absolute or climbs out of the store (`..`).
    #[error("invalid storage key `{0}`")]
    InvalidKey(String),
    /// The underlying I/O failed.
    #[error("model store I/O error on `{key}`: {source}")]
    Io {
        /// The key (or probe) being accessed.
        key: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// The `error.type` recorded on a span.
    pub fn error_type(&self) -> &'static str {
        match self {
            StoreError::InvalidKey(_) => "invalid_key",
            StoreError::Io { .. } => "io",
        }
    }
}

/// Durable storage of model files by key (`designs/<design_id>/v<version>.stl`).
#[async_trait]
pub trait ModelStore: Send + Sync + Debug {
    /// Stores `bytes` under `key` atomically: readers see the old content (or nothing) until
    /// the complete new content is durable.
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// The content under `key`, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `key` holds content.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Readiness: the store accepts writes.
    async fn check_writable(&self) -> Result<(), StoreError>;
}

/// [`ModelStore::put`] in the span `model_store.write` (`model_store.key`, `model_store.bytes`;
/// ERROR with the store's error type when the write fails).
pub async fn write_traced(
    store: &dyn ModelStore,
    key: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let span = tracing::info_span!(
        "model_store.write",
        model_store.key = key,
        model_store.bytes = bytes.len() as i64,
        error.type = Empty,
    );
    let result = store.put(key, bytes).instrument(span.clone()).await;
    if let Err(err) = &result {
        printflow_telemetry::record_error(&span, err.error_type(), &err.to_string());
    }
    result
}

/// [`ModelStore::get`] in the span `model_store.read` (`model_store.key`, `model_store.found`,
/// `model_store.bytes` when found; ERROR when the read fails).
pub async fn read_traced(store: &dyn ModelStore, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let span = tracing::info_span!(
        "model_store.read",
        model_store.key = key,
        model_store.found = Empty,
        model_store.bytes = Empty,
        error.type = Empty,
    );
    let result = store.get(key).instrument(span.clone()).await;
    match &result {
        Ok(Some(bytes)) => {
            span.record("model_store.found", true);
            span.record("model_store.bytes", bytes.len() as i64);
        }
        Ok(None) => {
            span.record("model_store.found", false);
        }
        Err(err) => printflow_telemetry::record_error(&span, err.error_type(), &err.to_string()),
    }
    result
}

/// A [`ModelStore`] in a local directory; keys are relative paths below it.
#[derive(Debug, Clone)]
pub struct LocalModelStore {
    root: PathBuf,
}

impl LocalModelStore {
    /// A store rooted at `root` (created on first write if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalModelStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file path of `key`; refuses keys that would leave the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let rel = Path::new(key);
        let ok = !key.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(StoreError::InvalidKey(key.to_owned()));
        }
        Ok(self.root.join(rel))
    }
}

fn io_err(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        key: key.to_owned(),
        source,
    }
}

/// Write to a temp file in the target directory, fsync it, rename it over the target, fsync
/// the directory so the rename itself survives a power cut.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is harmless (never a key), but tidy up.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[async_trait]
impl ModelStore for LocalModelStore {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(io_err(key))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(key)(e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(key)(e)),
        }
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let probe = format!(".readyz-{}", uuid::Uuid::new_v4().simple());
        let path = self.root.join(&probe);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&root)?;
            std::fs::write(&path, b"ok")?;
            std::fs::remove_file(&path)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(io_err(&probe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> LocalModelStore {
        LocalModelStore::new(
            std::env::temp_dir().join(format!("printflow-store-{}", uuid::Uuid::new_v4())),
        )
    }

    #[tokio::test]
    async fn put_get_exists_round_trip_and_overwrite() {
        let store = temp_store();
        let key = "designs/abc/v1.stl";
        assert!(!store.exists(key).await.unwrap());
        assert_eq!(store.get(key).await.unwrap(), None);
        store.put(key, b"first").await.unwrap();
        assert!(store.exists(key).await.unwrap());
        store.put(key, b"second").await.unwrap();
        assert_eq!(store.get(key).await.unwrap().unwrap(), b"second");
        // No temp files are left next to the key.
        let dir = store.path_of("designs/abc").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("v1.stl")]);
        store.check_writable().await.unwrap();
        std::fs::remove_dir_all(store.root()).unwrap();
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let store = temp_store();
        for key in ["", "../x", "/etc/passwd", "a/../../b", "./a"] {
            assert!(
                matches!(store.put(key, b"x").await, Err(StoreError::InvalidKey(_))),
                "{key}"
            );
        }
    }
}
