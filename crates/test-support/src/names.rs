//! Names of per-test databases and vhosts that carry the pid of the process that created them
//! ([`owned_name`]), so [`crate::leftovers`] can tell a leftover from one still in use. Below
//! [`crate::database`] and [`crate::rabbit`], which name what they create with it.

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
pub(crate) fn owner_alive(name: &str, sep: char) -> bool {
    owner_pid(name, sep).is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
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
