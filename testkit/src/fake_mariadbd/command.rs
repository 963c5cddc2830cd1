//! mariadbd's command strings for the SST method, rendered as the server
//! renders them (sst-protocol.md §1.2–§1.6): strings in single quotes
//! without escaping, numbers bare (10.11) or quoted (10.4 era), the
//! `--mysqld-args` tail copied with its own quoting rules.

use super::world::{Node, METHOD};

/// Which server generation renders the string.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Era {
    /// MariaDB 10.11.19: bare numbers, `--progress` always present.
    V10_11,
    /// MariaDB 10.4–10.6 sources: quoted numbers, no `--progress`.
    V10_4,
}

/// How one option's value is rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `--opt 'value'`.
    Quoted(String),
    /// `--opt value` (numbers in 10.11).
    Bare(String),
    /// `--opt` alone (`--bypass`).
    Flag,
}

/// One `--name value` item of the command string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    /// With the leading dashes: `--role`.
    pub name: String,
    /// Its value.
    pub value: Value,
}

impl Opt {
    fn quoted(name: &str, v: impl Into<String>) -> Opt {
        Opt {
            name: name.into(),
            value: Value::Quoted(v.into()),
        }
    }

    fn number(era: Era, name: &str, v: impl ToString) -> Opt {
        let v = v.to_string();
        Opt {
            name: name.into(),
            value: match era {
                Era::V10_11 => Value::Bare(v),
                Era::V10_4 => Value::Quoted(v),
            },
        }
    }
}

/// The command string under construction.
#[derive(Clone, Debug)]
pub struct CommandLine {
    /// `wsrep_sst_rsync_tunnel`.
    pub program: String,
    /// The options, in order.
    pub opts: Vec<Opt>,
    /// mariadbd's own argv[1..], rendered after `--mysqld-args`.
    pub mysqld_args: Vec<String>,
}

/// The joiner's parameters.
pub struct JoinerParams<'a> {
    /// Server generation.
    pub era: Era,
    /// The node.
    pub node: &'a Node,
    /// `--address` (host:port here, as with `wsrep_sst_receive_address`).
    pub address: String,
    /// `--parent`.
    pub parent: u32,
    /// `--progress 1` (10.11 only).
    pub progress: bool,
}

/// The donor's parameters.
pub struct DonorParams<'a> {
    /// Server generation.
    pub era: Era,
    /// The node.
    pub node: &'a Node,
    /// `--address`: the joiner's `ready` address.
    pub address: String,
    /// `--progress 1` (10.11 only).
    pub progress: bool,
    /// `--gtid`.
    pub gtid: String,
    /// `--gtid-domain-id`.
    pub domain: u32,
    /// `--bypass` (IST).
    pub bypass: bool,
}

impl CommandLine {
    /// The joiner's command string: `--role 'joiner' --address 'A' --datadir
    /// 'D/' --defaults-file 'F' --parent P [--progress N] --binlog 'mysql-bin'
    /// --mysqld-args --defaults-file=F --wsrep_start_position=…`.
    pub fn joiner(p: &JoinerParams<'_>) -> CommandLine {
        let mut opts = vec![
            Opt::quoted("--role", "joiner"),
            Opt::quoted("--address", p.address.clone()),
            Opt::quoted("--datadir", p.node.datadir_arg()),
            Opt::quoted("--defaults-file", p.node.cnf.display().to_string()),
            Opt::number(p.era, "--parent", p.parent),
        ];
        if p.era == Era::V10_11 {
            opts.push(Opt::number(p.era, "--progress", u8::from(p.progress)));
        }
        opts.push(Opt::quoted("--binlog", "mysql-bin"));
        CommandLine {
            program: METHOD.into(),
            opts,
            mysqld_args: vec![
                format!("--defaults-file={}", p.node.cnf.display()),
                "--wsrep_start_position=00000000-0000-0000-0000-000000000000:-1".into(),
            ],
        }
    }

    /// The donor's command string: `--role 'donor' --address 'A' --local-port
    /// 3306 --socket 'S' [--progress N] --datadir 'D/' --defaults-file 'F'
    /// --gtid 'G' --gtid-domain-id N --binlog 'mysql-bin' [--bypass]
    /// --mysqld-args --defaults-file=F --wsrep-new-cluster`.
    pub fn donor(p: &DonorParams<'_>) -> CommandLine {
        let mut opts = vec![
            Opt::quoted("--role", "donor"),
            Opt::quoted("--address", p.address.clone()),
            Opt::number(p.era, "--local-port", 3306),
            Opt::quoted("--socket", p.node.socket.display().to_string()),
        ];
        if p.era == Era::V10_11 {
            opts.push(Opt::number(p.era, "--progress", u8::from(p.progress)));
        }
        opts.extend([
            Opt::quoted("--datadir", p.node.datadir_arg()),
            Opt::quoted("--defaults-file", p.node.cnf.display().to_string()),
            Opt::quoted("--gtid", p.gtid.clone()),
            Opt::number(p.era, "--gtid-domain-id", p.domain),
            Opt::quoted("--binlog", "mysql-bin"),
        ]);
        if p.bypass {
            opts.push(Opt {
                name: "--bypass".into(),
                value: Value::Flag,
            });
        }
        CommandLine {
            program: METHOD.into(),
            opts,
            mysqld_args: vec![
                format!("--defaults-file={}", p.node.cnf.display()),
                "--wsrep-new-cluster".into(),
            ],
        }
    }

    /// Replaces the value of `name` (which must be present).
    pub fn set(&mut self, name: &str, value: Value) -> &mut Self {
        let opt = self
            .opts
            .iter_mut()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("{name} not in the command line"));
        opt.value = value;
        self
    }

    /// Removes `name` (which must be present).
    pub fn remove(&mut self, name: &str) -> &mut Self {
        let before = self.opts.len();
        self.opts.retain(|o| o.name != name);
        assert_ne!(before, self.opts.len(), "{name} not in the command line");
        self
    }

    /// Inserts an option at position `at`.
    pub fn insert(&mut self, at: usize, name: &str, value: Value) -> &mut Self {
        self.opts.insert(
            at,
            Opt {
                name: name.into(),
                value,
            },
        );
        self
    }

    /// Moves `name` to position `at`.
    pub fn move_to(&mut self, name: &str, at: usize) -> &mut Self {
        let i = self
            .opts
            .iter()
            .position(|o| o.name == name)
            .unwrap_or_else(|| panic!("{name} not in the command line"));
        let opt = self.opts.remove(i);
        self.opts.insert(at, opt);
        self
    }

    /// The string handed to `sh -c`.
    pub fn render(&self) -> String {
        let mut s = self.program.clone();
        for o in &self.opts {
            s.push(' ');
            s.push_str(&o.name);
            match &o.value {
                Value::Quoted(v) => {
                    s.push_str(" '");
                    s.push_str(v);
                    s.push('\'');
                }
                Value::Bare(v) => {
                    s.push(' ');
                    s.push_str(v);
                }
                Value::Flag => {}
            }
        }
        if !self.mysqld_args.is_empty() {
            s.push_str(" --mysqld-args");
            for a in &self.mysqld_args {
                if a.is_empty() {
                    continue;
                }
                s.push(' ');
                s.push_str(&mysqld_arg(a));
            }
        }
        s
    }
}

/// One `--mysqld-args` item as mariadbd copies it (§1.5): wrapped in double
/// quotes when it holds whitespace or `'&`|><;` (left and right of the first
/// `=` separately), with `"`, `\` and `$` backslash-escaped.
pub fn mysqld_arg(a: &str) -> String {
    fn needs_quotes(s: &str) -> bool {
        s.chars()
            .any(|c| c.is_whitespace() || "'&`|><;".contains(c))
    }
    fn escape(s: &str) -> String {
        let mut o = String::new();
        for c in s.chars() {
            if "\"\\$".contains(c) {
                o.push('\\');
            }
            o.push(c);
        }
        o
    }
    fn part(s: &str) -> String {
        if needs_quotes(s) {
            format!("\"{}\"", escape(s))
        } else {
            escape(s)
        }
    }
    match a.split_once('=') {
        Some((l, r)) => format!("{}={}", part(l), part(r)),
        None => part(a),
    }
}
