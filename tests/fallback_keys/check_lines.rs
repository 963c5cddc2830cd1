//! `check` resolves each role as its SST would and names, on every TLS
//! line, the key and option-file line each file came from.

use std::fs;

use sst_tunnel::pki::Eku;

use super::{check, finding, named, World, MYSQLD};

/// `check` resolves each role as its SST would and names, on every TLS
/// line, the key and option-file line the file came from.
#[test]
fn check_names_the_key_each_file_came_from() {
    let world = World::new();
    let server = world.node("server", Eku::ServerOnly);
    let client = world.node("client", Eku::ClientOnly);
    fs::set_permissions(
        &server.key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let cnf = world.cnf(
        "roles.cnf",
        &format!(
            "[mysqld]\n{MYSQLD}ssl-ca = {}\n[sst]\nssl-server-cert = {}\nssl-server-key = {}\n\
             ssl-client-cert = {}\nssl-client-key = {}\n",
            world.ca_file.display(),
            server.cert.display(),
            server.key.display(),
            client.cert.display(),
            client.key.display()
        ),
    );
    let (status, stdout, stderr) = check(&cnf);
    assert_eq!(status, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let server_cert = named("sst", "ssl-server-cert", &server.cert, &cnf);
    let client_key = named("sst", "ssl-client-key", &client.key, &cnf);
    let ca = named("mysqld", "ssl-ca", &world.ca_file, &cnf);
    finding(&stdout, "OK", &["tls files (joiner)", &server_cert, &ca]);
    finding(&stdout, "OK", &["tls files (donor)", &client_key]);
    finding(
        &stdout,
        "OK",
        &[&format!("{server_cert}:"), "readable and parsable"],
    );
    finding(
        &stdout,
        "OK",
        &[&format!("{client_key}:"), "matches the certificate"],
    );
    finding(
        &stdout,
        "OK",
        &[&server_cert, &format!("chain verifies against {ca}")],
    );
    finding(
        &stdout,
        "OK",
        &[&server_cert, "serverAuth (joiner), the one role"],
    );

    // The same files for both roles are checked once, for both.
    let node = world.node("node", Eku::Absent);
    let cnf = world.cnf(
        "shared.cnf",
        &format!(
            "[mysqld]\n{MYSQLD}ssl-ca = {}\nssl-cert = {}\nssl-key = {}\n",
            world.ca_file.display(),
            node.combined.display(),
            node.combined.display(),
        ),
    );
    let (status, stdout, stderr) = check(&cnf);
    assert_eq!(status, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let cert = named("mysqld", "ssl-cert", &node.combined, &cnf);
    finding(&stdout, "OK", &["tls files (joiner and donor)", &cert]);
    assert_eq!(stdout.matches("tls files").count(), 1, "{stdout}");
    finding(
        &stdout,
        "OK",
        &[&cert, "serverAuth (joiner) and clientAuth (donor)"],
    );

    // No CA from any source: the system-store warning says ssl-ca was looked for too.
    let cnf = world.cnf(
        "noca.cnf",
        &format!(
            "[mysqld]\n{MYSQLD}ssl-cert = {}\nssl-key = {}\n",
            node.cert.display(),
            node.key.display(),
        ),
    );
    let (_, stdout, _) = check(&cnf);
    finding(
        &stdout,
        "OK",
        &["tls files (joiner and donor)", "no CA configured"],
    );
    finding(
        &stdout,
        "WARN",
        &[
            "no [sst] tca or tcapath configured (nor ssl-ca or ssl-capath)",
            "system store",
        ],
    );
}
