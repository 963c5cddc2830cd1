//! Value syntax of one `sockopt` item, as socat reads it: numeric booleans
//! (`strtoul`, base 0), whole numbers, seconds with a fraction, TLS version
//! words; each error names the item.

use std::time::Duration;

use super::{SockoptError, SockoptErrorKind, TlsVersion};

pub(super) enum Version {
    Old,
    Tls(TlsVersion),
}

pub(super) struct Item<'a> {
    pub item: &'a str,
    pub name: &'a str,
    pub value: Option<&'a str>,
}

impl Item<'_> {
    pub fn error(&self, kind: SockoptErrorKind, reason: String) -> SockoptError {
        SockoptError {
            item: self.item.to_string(),
            kind,
            reason,
        }
    }

    pub fn bad(&self, reason: String) -> SockoptError {
        self.error(SockoptErrorKind::BadValue, reason)
    }

    pub fn string(&self) -> Result<&str, SockoptError> {
        match self.value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(self.bad(format!("`{}` needs a value", self.name))),
        }
    }

    /// socat's booleans: bare = 1, otherwise a number (`strtoul`, base 0).
    pub fn boolean(&self) -> Result<bool, SockoptError> {
        match self.value {
            None => Ok(true),
            Some(v) => parse_uint(v).map(|n| n != 0).ok_or_else(|| {
                self.bad(format!(
                    "`{}` takes a number; use {}=0 or {}=1",
                    self.name, self.name, self.name
                ))
            }),
        }
    }

    pub fn number(&self) -> Result<u64, SockoptError> {
        parse_uint(self.string()?)
            .ok_or_else(|| self.bad(format!("`{}` takes a whole number", self.name)))
    }

    pub fn small(&self) -> Result<u32, SockoptError> {
        u32::try_from(self.number()?).map_err(|_| self.bad(format!("`{}` is too large", self.name)))
    }

    pub fn size(&self) -> Result<usize, SockoptError> {
        usize::try_from(self.number()?)
            .map_err(|_| self.bad(format!("`{}` is too large", self.name)))
    }

    pub fn seconds(&self) -> Result<Duration, SockoptError> {
        let v = self.string()?;
        v.parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| self.bad(format!("`{}` takes seconds, like 1 or 0.5", self.name)))
    }

    pub fn version(&self) -> Result<Version, SockoptError> {
        let v = self.string()?.to_ascii_lowercase();
        let v = v
            .replace("tlsv", "tls")
            .replace("sslv", "ssl")
            .replace("dtlsv", "dtls");
        match v.as_str() {
            "tls1" | "tls1.0" | "tls1.1" => Ok(Version::Old),
            "tls1.2" => Ok(Version::Tls(TlsVersion::Tls12)),
            "tls1.3" => Ok(Version::Tls(TlsVersion::Tls13)),
            "ssl2" | "ssl3" | "dtls1" | "dtls1.0" | "dtls1.2" => Err(self.error(
                SockoptErrorKind::Rejected,
                "SSL and DTLS versions are not supported; use TLS1.2 or TLS1.3".to_string(),
            )),
            _ => Err(self.bad("unknown SSL/TLS version; use TLS1.2 or TLS1.3".to_string())),
        }
    }
}

/// `strtoul` with base 0, whole string: `0x` hex, leading `0` octal, else decimal.
fn parse_uint(v: &str) -> Option<u64> {
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if v.len() > 1 && v.starts_with('0') {
        u64::from_str_radix(&v[1..], 8).ok()
    } else {
        v.parse().ok()
    }
}
