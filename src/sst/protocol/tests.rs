//! Tests for [`super`]: the donor's and the joiner's transcripts, one flush
//! per line, and a closed pipe.

use super::*;

const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

fn written(f: impl FnOnce(&mut ProtocolWriter<Vec<u8>>), progress: bool) -> String {
    let mut w = ProtocolWriter::new(Vec::new(), progress);
    f(&mut w);
    String::from_utf8(w.into_inner()).unwrap()
}

#[test]
fn donor_sst_transcript() {
    let state: State = format!("{UUID}:6 0").parse().unwrap();
    let out = written(
        |w| {
            w.flush_tables().unwrap();
            w.total(100).unwrap();
            w.continue_().unwrap();
            w.done(&state).unwrap();
        },
        false,
    );
    assert_eq!(out, format!("flush tables\ncontinue\ndone {UUID}:6 0\n"));
}

#[test]
fn joiner_transcript_with_progress() {
    let state: State = format!("{UUID}:6 0").parse().unwrap();
    let out = written(
        |w| {
            w.ready("127.0.0.1:4444/rsync_tunnel_sst").unwrap();
            w.total(2048).unwrap();
            w.complete(1024).unwrap();
            w.state(&state).unwrap();
        },
        true,
    );
    assert_eq!(
        out,
        format!("ready 127.0.0.1:4444/rsync_tunnel_sst\ntotal 2048\ncomplete 1024\n{UUID}:6 0\n")
    );
}

/// A writer that counts flushes, to prove each line is flushed on its own.
struct Flushes {
    data: Vec<u8>,
    lines_at_flush: Vec<usize>,
}

impl Write for Flushes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lines_at_flush
            .push(self.data.iter().filter(|&&b| b == b'\n').count());
        Ok(())
    }
}

#[test]
fn every_line_is_flushed() {
    let mut w = ProtocolWriter::new(
        Flushes {
            data: Vec::new(),
            lines_at_flush: Vec::new(),
        },
        false,
    );
    w.flush_tables().unwrap();
    w.continue_().unwrap();
    assert_eq!(w.into_inner().lines_at_flush, vec![1, 2]);
}

struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_pipe_is_epipe_naming_the_line() {
    let e = ProtocolWriter::new(Closed, false).continue_().unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::BrokenPipe);
    assert_eq!(
        e.to_string(),
        "cannot write 'continue' to mariadbd on stdout"
    );
}
