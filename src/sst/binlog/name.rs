//! Which file names the binlog hand-over may create or delete on the
//! joiner: binlogs are `<stem>.<digits>` with a plain stem. Names come from
//! the donor (tar entries) or from an index a previous transfer may have
//! forged, so every rule here is about what a hostile name could reach.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Longest file name Linux file systems take (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// The stem of a binlog name `<stem>.<digits>`, or why `name` is not one.
///
/// The stem is any plain name (bytes `[A-Za-z0-9._-]`, not starting with
/// `.`): `log_bin` without a value makes it `<hostname>-bin`, so the donor's
/// stem often differs from the joiner's base and both are legitimate. The
/// checks run from the most to the least dangerous, so the reason shown is
/// the one that matters (`../x` is refused for its `/`).
pub fn binlog_stem(name: &[u8]) -> Result<&[u8], &'static str> {
    if name.is_empty() || name == b"." || name == b".." {
        return Err("empty or dot name");
    }
    if name.contains(&b'/') {
        return Err("name contains '/'");
    }
    if name.contains(&0) {
        return Err("name contains NUL");
    }
    // A line break would add lines to the index we write from these names.
    if name.contains(&b'\n') || name.contains(&b'\r') {
        return Err("name contains a line break");
    }
    if name.windows(2).any(|w| w == b"..") {
        return Err("name contains '..'");
    }
    if name.len() > NAME_MAX {
        return Err("name longer than 255 bytes");
    }
    if name.starts_with(b".") {
        return Err("name starts with '.'");
    }
    if !name
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
    {
        return Err("name has a byte outside [A-Za-z0-9._-]");
    }
    match name.iter().rposition(|&b| b == b'.') {
        Some(dot)
            if dot > 0
                && dot + 1 < name.len()
                && name[dot + 1..].iter().all(u8::is_ascii_digit) =>
        {
            Ok(&name[..dot])
        }
        _ => Err("not a binlog name (<stem>.<digits>)"),
    }
}

/// `true` when `name` is `<base>.<digits>`: one of the joiner's own
/// numbered binlogs (mysqld numbers them `<base>.000001`, …).
pub fn is_numbered_binlog(name: &OsStr, base: &OsStr) -> bool {
    let (name, base) = (name.as_bytes(), base.as_bytes());
    name.len() > base.len() + 1
        && name.starts_with(base)
        && name[base.len()] == b'.'
        && name[base.len() + 1..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_names_have_a_plain_stem_and_a_number() {
        for (name, stem) in [
            (&b"mysql-bin.000001"[..], &b"mysql-bin"[..]),
            (b"db1.example-bin.000042", b"db1.example-bin"),
            (b"node_2-bin.7", b"node_2-bin"),
        ] {
            assert_eq!(binlog_stem(name), Ok(stem));
        }
    }

    #[test]
    fn other_names_are_refused_with_the_reason() {
        let long = [b'a'; 300];
        for (name, reason) in [
            (&b""[..], "empty or dot name"),
            (b"..", "empty or dot name"),
            (b"../mysql-bin.000001", "name contains '/'"),
            (b"/etc/cron.d/x", "name contains '/'"),
            (b"mysql-bin.0\0", "name contains NUL"),
            (
                b"mysql-bin.000001\nmysql-bin.2",
                "name contains a line break",
            ),
            (b"mysql-bin.000001\r", "name contains a line break"),
            (b"mysql-bin..000001", "name contains '..'"),
            (&long[..], "name longer than 255 bytes"),
            (b".mysql-bin.000001", "name starts with '.'"),
            (b"my sql.000001", "name has a byte outside [A-Za-z0-9._-]"),
            (b"ibdata1", "not a binlog name (<stem>.<digits>)"),
            (b"mysql-bin.index", "not a binlog name (<stem>.<digits>)"),
            (b"mysql-bin.", "not a binlog name (<stem>.<digits>)"),
            (b"mysql-bin.00001x", "not a binlog name (<stem>.<digits>)"),
        ] {
            assert_eq!(
                binlog_stem(name),
                Err(reason),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn numbered_binlog_glob() {
        let base = OsStr::new("mysql-bin");
        assert!(is_numbered_binlog(OsStr::new("mysql-bin.000001"), base));
        assert!(is_numbered_binlog(OsStr::new("mysql-bin.1"), base));
        assert!(!is_numbered_binlog(OsStr::new("mysql-bin.index"), base));
        assert!(!is_numbered_binlog(OsStr::new("mysql-bin.1.tmp"), base));
        assert!(!is_numbered_binlog(OsStr::new("mysql-bin."), base));
        assert!(!is_numbered_binlog(OsStr::new("mysql-bin"), base));
        assert!(!is_numbered_binlog(OsStr::new("mysql-binx.1"), base));
    }
}
