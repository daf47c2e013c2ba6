//! Configuration read through a trait, so tests hand in a map and never set process env vars
//! (which would leak between tests running in parallel).

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// Where settings come from.
pub trait ConfigSource {
    /// The raw value of `key`, if set and not empty.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl ConfigSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl ConfigSource for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned().filter(|v| !v.is_empty())
    }
}

impl ConfigSource for HashMap<&str, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned().filter(|v| !v.is_empty())
    }
}

/// A value that is set but does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value `{value}` for {key}: {reason}")]
pub struct ConfigError {
    /// The variable name.
    pub key: String,
    /// What it held.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

/// Reads `key` as `T`, or `default` when unset.
pub fn parse_or<T>(src: &dyn ConfigSource, key: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match src.get(key) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
            key: key.to_owned(),
            value: raw.clone(),
            reason: e.to_string(),
        }),
    }
}

/// Reads `key` as a string, or `default` when unset.
pub fn string_or(src: &dyn ConfigSource, key: &str, default: &str) -> String {
    src.get(key).unwrap_or_else(|| default.to_owned())
}

/// A secret setting (a client secret, a password): `Debug` prints `<redacted>`, so a settings
/// struct holding one can derive `Debug` and still be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_not_printed() {
        let s = Secret::new("s3cret");
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?}"), "<redacted>");
    }

    #[test]
    fn defaults_apply_and_bad_values_are_named() {
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("PORT", "80x".into());
        map.insert("EMPTY", String::new());
        assert_eq!(parse_or(&map, "MISSING", 7u16).unwrap(), 7);
        assert_eq!(parse_or(&map, "EMPTY", 7u16).unwrap(), 7);
        let err = parse_or(&map, "PORT", 7u16).unwrap_err();
        assert_eq!(err.key, "PORT");
        assert!(err.to_string().contains("80x"));
    }
}
