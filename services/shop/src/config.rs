//! Shop settings, read from `SHOP_*` variables through [`ConfigSource`] (tests pass a map).

use printflow_auth::{AuthSettings, ClientSettings};
use printflow_faults::FaultSettings;
use printflow_runtime::{DatabaseSettings, HttpSettings};
use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Everything the Shop needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`SHOP_HTTP_HOST`, default `127.0.0.1`; `SHOP_HTTP_PORT`, default 8080,
    /// 0 picks a free one).
    pub http: HttpSettings,
    /// The pool (`SHOP_DATABASE_URL`, default
    /// `postgres://printflow:printflow@127.0.0.1:5432/printflow_shop`;
    /// `SHOP_DATABASE_MAX_CONNECTIONS`, default 16; `SHOP_DATABASE_ACQUIRE_TIMEOUT_MS`, default
    /// 3000).
    pub database: DatabaseSettings,
    /// Directory of the local model store, relative to the working directory unless absolute
    /// (`SHOP_MODEL_STORE_DIR`, default `.data/models`).
    pub model_store_dir: PathBuf,
    /// Base URL of the CRM API (`SHOP_CRM_URL`, default `http://127.0.0.1:8081`).
    pub crm_url: String,
    /// Deadline of one CRM call (`SHOP_CRM_TIMEOUT_MS`, default 2000).
    pub crm_timeout: Duration,
    /// PostgreSQL `statement_timeout` for catalog search queries (`SHOP_SEARCH_TIMEOUT_MS`,
    /// default 2000); a search that takes longer answers 503 `search_timeout`.
    pub search_timeout: Duration,
    /// The printers' build volume (`SHOP_BUILD_VOLUME_MM`, default `250x210x210`).
    pub build_volume: BuildVolume,
    /// How callers' tokens are verified (`SHOP_AUTH_*`; audience `shop-api`).
    pub auth: AuthSettings,
    /// The Shop's own client credentials for calling CRM (`SHOP_AUTH_CLIENT_ID`, default
    /// `shop-api`; `SHOP_AUTH_CLIENT_SECRET`, required).
    pub client: ClientSettings,
    /// Whether an `admin` may arm the drill faults of [`crate::faults`] (`PRINTFLOW_FAULTS`,
    /// default off).
    pub faults: FaultSettings,
}

impl Config {
    /// Reads the settings, applying defaults for unset ones.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let crm_timeout_ms: u64 = parse_or(src, "SHOP_CRM_TIMEOUT_MS", 2000)?;
        let search_timeout_ms: u64 = parse_or(src, "SHOP_SEARCH_TIMEOUT_MS", 2000)?;
        for (key, ms) in [
            ("SHOP_CRM_TIMEOUT_MS", crm_timeout_ms),
            ("SHOP_SEARCH_TIMEOUT_MS", search_timeout_ms),
        ] {
            // 0 would mean "no deadline" to PostgreSQL and an instant failure to reqwest.
            if ms == 0 {
                return Err(ConfigError {
                    key: key.to_owned(),
                    value: "0".to_owned(),
                    reason: "must be at least 1 ms".to_owned(),
                });
            }
        }
        Ok(Config {
            faults: FaultSettings::from_source(src)?,
            http: HttpSettings::from_source(src, "SHOP", 8080)?,
            database: DatabaseSettings::from_source(src, "SHOP", "printflow_shop", 16)?,
            model_store_dir: PathBuf::from(string_or(src, "SHOP_MODEL_STORE_DIR", ".data/models")),
            crm_url: string_or(src, "SHOP_CRM_URL", "http://127.0.0.1:8081")
                .trim_end_matches('/')
                .to_owned(),
            crm_timeout: Duration::from_millis(crm_timeout_ms),
            search_timeout: Duration::from_millis(search_timeout_ms),
            build_volume: parse_or(
                src,
                "SHOP_BUILD_VOLUME_MM",
                BuildVolume {
                    x_mm: 250.0,
                    y_mm: 210.0,
                    z_mm: 210.0,
                },
            )?,
            auth: AuthSettings::from_source(src, "SHOP", "shop-api")?,
            client: ClientSettings::from_source(src, "SHOP", "shop-api")?,
        })
    }
}

/// A printer's build volume in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuildVolume {
    /// X extent.
    pub x_mm: f64,
    /// Y extent.
    pub y_mm: f64,
    /// Z extent.
    pub z_mm: f64,
}

impl BuildVolume {
    /// The extents sorted ascending, for "fits in any axis-aligned orientation" checks.
    pub fn sorted(&self) -> [f64; 3] {
        let mut v = [self.x_mm, self.y_mm, self.z_mm];
        v.sort_by(f64::total_cmp);
        v
    }
}

impl fmt::Display for BuildVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} x {} x {} mm", self.x_mm, self.y_mm, self.z_mm)
    }
}

impl FromStr for BuildVolume {
    type Err = String;

    /// Parses `XxYxZ` in mm, e.g. `250x210x210`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(['x', 'X']).map(str::trim).collect();
        if parts.len() != 3 {
            return Err("expected three extents in mm, like 250x210x210".to_owned());
        }
        let mut v = [0.0f64; 3];
        for (slot, part) in v.iter_mut().zip(&parts) {
            let n: f64 = part
                .parse()
                .map_err(|_| format!("`{part}` is not a number"))?;
            if !n.is_finite() || n <= 0.0 {
                return Err(format!("`{part}` must be a positive number of mm"));
            }
            *slot = n;
        }
        Ok(BuildVolume {
            x_mm: v[0],
            y_mm: v[1],
            z_mm: v[2],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_apply() {
        let none = HashMap::<&str, String>::new();
        let err = Config::from_source(&none).unwrap_err();
        assert_eq!(
            err.key, "SHOP_AUTH_CLIENT_SECRET",
            "the one setting without a default"
        );
        let secret = HashMap::from([("SHOP_AUTH_CLIENT_SECRET", "test-only".to_owned())]);
        let cfg = Config::from_source(&secret).unwrap();
        assert_eq!(cfg.auth.audience, "shop-api");
        assert_eq!(cfg.client.client_id, "shop-api");
        assert_eq!(cfg.http.port, 8080);
        assert_eq!(cfg.http.host, "127.0.0.1");
        assert_eq!(cfg.database.max_connections, 16);
        assert_eq!(cfg.crm_timeout, Duration::from_millis(2000));
        assert_eq!(cfg.build_volume.sorted(), [210.0, 210.0, 250.0]);
        assert_eq!(cfg.model_store_dir, PathBuf::from(".data/models"));
    }

    #[test]
    fn build_volume_parses_and_rejects_garbage() {
        let v: BuildVolume = "300x200.5x100".parse().unwrap();
        assert_eq!((v.x_mm, v.y_mm, v.z_mm), (300.0, 200.5, 100.0));
        assert!("300x200".parse::<BuildVolume>().is_err());
        assert!("300xax100".parse::<BuildVolume>().is_err());
        assert!("300x-1x100".parse::<BuildVolume>().is_err());
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("SHOP_BUILD_VOLUME_MM", "big".into());
        let err = Config::from_source(&map).unwrap_err();
        assert_eq!(err.key, "SHOP_BUILD_VOLUME_MM");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("SHOP_SEARCH_TIMEOUT_MS", "0".into());
        assert_eq!(
            Config::from_source(&map).unwrap_err().key,
            "SHOP_SEARCH_TIMEOUT_MS"
        );
    }
}
