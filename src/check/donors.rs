//! The joiner's donor allow-list (`[sst] sst-allowed-donors`): what it
//! resolves to, and whether this node's own certificate would pass it when
//! it donates to a joiner configured the same way.

use openssl::x509::X509Ref;

use super::report::{Finding, Report};
use crate::config::Settings;
use crate::tls::policy::CertNames;
use crate::tls::AllowList;

const SUBJECT: &str = "[sst] sst-allowed-donors";

/// Resolves the allow-list into `settings` (as a joiner would, so that a
/// following `--listen` enforces it) and reports it; `leaf` is this node's
/// certificate, when it could be read.
pub fn check(settings: &mut Settings, leaf: Option<&X509Ref>, report: &mut Report) {
    let names = match settings.apply_donor_names(None) {
        Ok(Some(names)) => names,
        Ok(None) => {
            report.add(Finding::ok(
                SUBJECT,
                "off: any certificate that chains to the CA may donate to this node \
                 (set it to the donors' names, or to `auto` for the hosts of \
                 wsrep_cluster_address, where the CA also signs other clients)",
            ));
            return;
        }
        Err(e) => {
            report.add(Finding::fail(SUBJECT, crate::exit::chain(&e)));
            return;
        }
    };
    if !settings.tls.opts.verify {
        report.add(Finding::fail(
            SUBJECT,
            format!("{names}: set, but sockopt verify=0 turns every certificate check off, the allow-list included"),
        ));
        return;
    }
    report.add(Finding::ok(
        SUBJECT,
        format!("donor certificates must carry one of {names}"),
    ));
    let Some(leaf) = leaf else { return };
    let list = AllowList::new(names.names.iter().cloned());
    if let Err(refused) = list.check_names(&CertNames::from_cert(leaf)) {
        report.add(Finding::warn(
            SUBJECT,
            format!(
                "this node's own certificate would be refused as a donor by a joiner with the \
                 same setting: {refused}"
            ),
        ));
    }
}
