//! How donors will judge this node's own certificate when it is the joiner
//! advertising `host`: the name they check (the host, or `commonname=`),
//! and whether the certificate carries it by socat's rules. `check` reports
//! it, and the joiner logs it at start when it is not fine.

use std::fmt;

use super::{match_names, CertNames, NameMatch, NameMismatch, PeerPolicy};

/// The verdict donors will reach on this node's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnName {
    /// `commonname=` is empty: donors check the chain only.
    Unchecked,
    /// The certificate carries the name donors check.
    Covered {
        /// The name donors check.
        expected: String,
        /// How it matched.
        matched: NameMatch,
    },
    /// It carries it only by a socat rule outside RFC 6125.
    CoveredOutsideRfc {
        /// The name donors check.
        expected: String,
        /// How it matched.
        matched: NameMatch,
        /// Which rule, in words.
        why: &'static str,
    },
    /// It does not: donors will refuse this node as a joiner.
    Refused(NameMismatch),
}

impl OwnName {
    /// Judges `names` (this node's certificate) as donors will when this
    /// node advertises `host`, with the `commonname=` of our sockopt (the
    /// same on every node: socat applies it on both sides).
    pub fn judge(names: &CertNames, commonname: Option<&str>, host: &str) -> OwnName {
        let Some(expected) = PeerPolicy::for_connector(commonname, host).expected else {
            return OwnName::Unchecked;
        };
        match match_names(names, &expected) {
            Ok(matched) => match matched.non_rfc_reason() {
                Some(why) => OwnName::CoveredOutsideRfc {
                    expected,
                    matched,
                    why,
                },
                None => OwnName::Covered { expected, matched },
            },
            Err(mismatch) => OwnName::Refused(mismatch),
        }
    }
}

impl fmt::Display for OwnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnName::Unchecked => f.write_str(
                "commonname= is empty: donors check no name on this node's certificate, only \
                 its chain",
            ),
            OwnName::Covered { expected, matched } => write!(
                f,
                "the certificate covers `{expected}`, the name donors check ({} by {})",
                matched.name, matched.rule
            ),
            OwnName::CoveredOutsideRfc {
                expected,
                matched,
                why,
            } => write!(
                f,
                "the certificate covers `{expected}` only by a socat rule outside RFC 6125 \
                 ({why}: {} by {})",
                matched.name, matched.rule
            ),
            OwnName::Refused(mismatch) => {
                write!(f, "{mismatch}: donors will refuse this node as a joiner")
            }
        }
    }
}
