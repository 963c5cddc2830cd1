#![allow(clippy::unwrap_used)]
use super::*;
use crate::rsync::ServerDirs;

fn f(path: &str, size: u64) -> SchemaFile {
    SchemaFile {
        path: path.into(),
        size,
    }
}

fn paths(s: &Stream) -> Vec<&str> {
    s.files.iter().map(|p| p.to_str().unwrap()).collect()
}

/// The heaviest stream never carries more than the largest file over the
/// lightest, and every file is in exactly one stream.
fn assert_balanced(files: &[SchemaFile], streams: &[Stream]) {
    let largest = files.iter().map(|f| f.size).max().unwrap_or(0);
    let max = streams.iter().map(|s| s.bytes).max().unwrap_or(0);
    let min = streams.iter().map(|s| s.bytes).min().unwrap_or(0);
    assert!(max - min <= largest, "{streams:?}");
    let mut all: Vec<&PathBuf> = streams.iter().flat_map(|s| &s.files).collect();
    all.sort();
    let mut want: Vec<&PathBuf> = files.iter().map(|f| &f.path).collect();
    want.sort();
    assert_eq!(all, want);
    for s in streams {
        assert!(!s.files.is_empty(), "empty stream in {streams:?}");
        let bytes: u64 = s
            .files
            .iter()
            .map(|p| files.iter().find(|f| &f.path == p).unwrap().size)
            .sum();
        assert_eq!(bytes, s.bytes);
    }
}

#[test]
fn largest_first_each_to_the_lightest_stream() {
    let files = vec![
        f("a/small", 1),
        f("b/big", 10),
        f("a/mid", 6),
        f("c/mid2", 5),
        f("a/four", 4),
    ];
    let streams = balance(files.clone(), 2);
    // 10 → s0; 6 → s1; 5 → s1 (6 < 10); 4 → s0 (10 < 11); 1 → s1 (11 < 14)
    assert_eq!(paths(&streams[0]), ["b/big", "a/four"]);
    assert_eq!(paths(&streams[1]), ["a/mid", "c/mid2", "a/small"]);
    assert_eq!((streams[0].bytes, streams[1].bytes), (14, 12));
    assert_balanced(&files, &streams);
}

#[test]
fn equal_sizes_spread_by_count_then_path() {
    let files: Vec<_> = (0..7).map(|i| f(&format!("db/t{i}"), 0)).collect();
    let streams = balance(files.clone(), 3);
    let counts: Vec<_> = streams.iter().map(|s| s.files.len()).collect();
    assert_eq!(counts, [3, 2, 2]);
    assert_eq!(paths(&streams[0]), ["db/t0", "db/t3", "db/t6"]);
    assert_balanced(&files, &streams);
}

#[test]
fn no_files_no_streams() {
    assert!(balance(Vec::new(), 4).is_empty());
    assert!(files_from(&Stream::default()).is_empty());
}

#[test]
fn one_huge_file_rides_alone_and_the_rest_share_the_others() {
    let mut files = vec![f("big/huge.ibd", 1000)];
    files.extend((0..20).map(|i| f(&format!("small/t{i}.ibd"), 10)));
    let streams = balance(files.clone(), 3);
    assert_eq!(streams.len(), 3);
    assert_eq!(paths(&streams[0]), ["big/huge.ibd"]);
    assert_eq!(streams[0].bytes, 1000);
    assert_eq!((streams[1].bytes, streams[2].bytes), (100, 100));
    assert_balanced(&files, &streams);
}

#[test]
fn more_streams_than_files_gives_one_stream_per_file() {
    let files = vec![f("a/x", 3), f("b/y", 7)];
    let streams = balance(files.clone(), 8);
    assert_eq!(streams.len(), 2);
    assert_eq!(paths(&streams[0]), ["b/y"]);
    assert_eq!(paths(&streams[1]), ["a/x"]);
    // Zero streams asked is one stream.
    assert_eq!(balance(files, 0).len(), 1);
}

#[test]
fn many_random_sizes_stay_within_the_largest_file_bound() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let files: Vec<_> = (0..500)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            f(&format!("db{}/t{i}", i % 7), x % 1_000_000)
        })
        .collect();
    for n in 1..=9 {
        assert_balanced(&files, &balance(files.clone(), n));
    }
}

#[test]
fn the_list_is_nul_terminated_and_dot_slash_prefixed() {
    let s = Stream {
        files: vec!["#mysql50#a-b/t.frm".into(), "db/new\nline".into()],
        bytes: 0,
    };
    assert_eq!(files_from(&s), b"./#mysql50#a-b/t.frm\0./db/new\nline\0");
}

#[test]
fn glob_matches_the_kind_patterns() {
    assert!(glob(b"ib_logfile[0-9]*", b"ib_logfile0"));
    assert!(glob(b"ib_logfile[0-9]*", b"ib_logfile101"));
    assert!(!glob(b"ib_logfile[0-9]*", b"ib_logfilex"));
    assert!(glob(b"aria_log.*", b"aria_log.00000001"));
    assert!(!glob(b"aria_log.*", b"aria_log_control"));
    assert!(glob(b"aria_log_control", b"aria_log_control"));
    assert!(glob(b"undo*", b"undo"));
    assert!(glob(b"t?.ibd", b"t1.ibd"));
    assert!(glob(b"[!a]x", b"bx") && !glob(b"[!a]x", b"ax"));
}

/// The walk sends what `directory_args` sends: regular files at any depth,
/// `ib_logfile*` only at a schema directory's own level, nothing of the
/// donor's own kind and log directories inside a schema directory, no
/// symlink, no FIFO; a symlinked schema directory is followed.
#[test]
fn schema_files_follow_the_per_directory_runs_exclusions() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let w = |p: &str, n: usize| {
        let p = data.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, vec![7u8; n]).unwrap();
    };
    w("db1/t.ibd", 100);
    w("db1/ib_logfile0", 3);
    w("db1/sub/ib_logfile9", 4);
    w("db1/sub/ib_logfile_dir/x", 5);
    w("db1/sub/deep/z.frm", 6);
    w("db1/aria/aria_log.00000001", 7);
    w("db1/aria/aria_log_control", 8);
    w("db1/aria/keep.MAI", 9);
    w("#mysql50#x/e.frm", 0);
    std::fs::create_dir_all(data.join("db1/empty")).unwrap();
    std::os::unix::fs::symlink("t.ibd", data.join("db1/link")).unwrap();
    std::os::unix::fs::symlink(data.join("db1"), data.join("alias")).unwrap();
    let fifo = data.join("db1/fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut p = TransferPlan {
        rsync: "/usr/bin/rsync".into(),
        dirs: ServerDirs::with_log_dir(data.clone(), data.clone()),
        relay: "127.0.0.1:4000".parse().unwrap(),
        parallel: 2,
        whole_file: true,
        extra_top_level: Vec::new(),
        io_timeout: None,
    };
    p.dirs.aria_log_dir = data.join("db1/aria");
    let mut got = schema_files(&p, &["db1".into(), "#mysql50#x".into()]).unwrap();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let want = [
        ("#mysql50#x/e.frm", 0),
        ("db1/aria/keep.MAI", 9),
        ("db1/ib_logfile0", 3),
        ("db1/sub/deep/z.frm", 6),
        ("db1/t.ibd", 100),
    ];
    let got: Vec<(&str, u64)> = got
        .iter()
        .map(|f| (f.path.to_str().unwrap(), f.size))
        .collect();
    assert_eq!(got, want);
    let alias = schema_files(&p, &["alias".into()]).unwrap();
    // Through the symlink the donor's Aria directory is not recognised,
    // exactly as `directory_args` does not exclude it there.
    assert_eq!(alias.len(), 6, "{alias:?}");
    assert!(alias.iter().all(|f| f.path.starts_with("alias")));
}
