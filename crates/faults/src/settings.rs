//! [`FaultSettings`]: whether fault injection is on in this process.

use printflow_config::{ConfigError, ConfigSource};

/// The variable that turns fault injection on. Shared by every service (no prefix): a drill
/// turns it on for the whole stack at once.
pub const VARIABLE: &str = "PRINTFLOW_FAULTS";

/// Whether faults may be armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultSettings {
    /// `PRINTFLOW_FAULTS=enabled`; unset or `disabled` is off, anything else is refused so a
    /// typo cannot leave a production process with faults on (or a drill with them off).
    pub enabled: bool,
}

impl FaultSettings {
    /// Reads [`VARIABLE`].
    pub fn from_source(src: &dyn ConfigSource) -> Result<FaultSettings, ConfigError> {
        match src.get(VARIABLE).as_deref().map(str::trim) {
            None | Some("" | "disabled") => Ok(FaultSettings { enabled: false }),
            Some("enabled") => Ok(FaultSettings { enabled: true }),
            Some(other) => Err(ConfigError {
                key: VARIABLE.into(),
                value: other.into(),
                reason: "must be `enabled` or `disabled`".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn off_unless_enabled_and_typos_refused() {
        let mut map: HashMap<&str, String> = HashMap::new();
        assert!(!FaultSettings::from_source(&map).unwrap().enabled);
        map.insert(VARIABLE, "disabled".into());
        assert!(!FaultSettings::from_source(&map).unwrap().enabled);
        map.insert(VARIABLE, "enabled".into());
        assert!(FaultSettings::from_source(&map).unwrap().enabled);
        for bad in ["yes", "true", "Enabled"] {
            map.insert(VARIABLE, bad.into());
            assert_eq!(FaultSettings::from_source(&map).unwrap_err().key, VARIABLE);
        }
    }
}
