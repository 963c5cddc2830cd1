//! One physical line of an option file, classified and decoded the way
//! `my_print_defaults` (10.11) does it, on raw bytes.
//!
//! Rules (each checked against `/usr/bin/my_print_defaults`):
//! - MariaDB reads a file in pieces of at most [`CHUNK`] bytes; a longer line
//!   is split and every piece counts as a line. Bytes after a NUL are ignored.
//! - Whitespace is latin-1 whitespace: space, `\t`, `\n`, `\v`, `\f`, `\r` and
//!   `0xA0` (so a UTF-8 value ending in `à`, `C3 A0`, loses its last byte).
//! - After leading whitespace: empty, `#` or `;` means a comment line; `!`
//!   starts a directive; `[` a group header (name up to the first `]`, trailing
//!   whitespace dropped, leading kept; no `]` is an error).
//! - Otherwise an option: a `#` outside quotes starts a comment (a quote opens
//!   with `'` or `"` anywhere on the line, also in the key, and a backslash
//!   inside quotes protects the next character); `;` is not a comment after
//!   text. The key is everything before the first `=`, trailing whitespace
//!   dropped; no `=` means a valueless option. The value is trimmed, one pair
//!   of matching outer quotes is removed when the value is at least two bytes
//!   long, and then the escapes `\n \t \r \b \s \" \' \\` are decoded (any
//!   other backslash is kept, as is a backslash in last position).

/// The size of the pieces MariaDB reads a file in (`fgets` into 4096 bytes,
/// minus one): a longer line continues as a new line.
pub(crate) const CHUNK: usize = 4094;

/// Latin-1 whitespace as MariaDB's `my_isspace` sees it.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    s
}

/// What a line is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Empty or a comment.
    Blank,
    /// `[name]`, with the name as MariaDB keeps it.
    Group(&'a [u8]),
    /// A `!` line; the text after the `!` (see [`directive`]).
    Bang(&'a [u8]),
    /// `key[=value]`, decoded.
    Option {
        /// The key as written (with `loose-`, `_` and `-` untouched).
        key: Vec<u8>,
        /// The decoded value; `None` for a line without `=`.
        value: Option<Vec<u8>>,
    },
}

/// A line that cannot be parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineError {
    /// `[` without `]`.
    WrongGroup,
    /// `!include` or `!includedir` without an argument.
    WrongDirective(&'static str),
}

/// A recognised `!` directive.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Directive<'a> {
    /// `!include FILE`.
    Include(&'a [u8]),
    /// `!includedir DIR`.
    IncludeDir(&'a [u8]),
}

/// Classifies one chunk (a line, or a piece of a long line, with its `\n`).
pub(crate) fn parse(chunk: &[u8]) -> Result<Line<'_>, LineError> {
    let chunk = match chunk.iter().position(|&b| b == 0) {
        Some(nul) => &chunk[..nul],
        None => chunk,
    };
    let text = trim_start(chunk);
    let indented = text.len() != chunk.len();
    match text.first() {
        None | Some(b'#') | Some(b';') => Ok(Line::Blank),
        Some(b'!') => Ok(Line::Bang(&text[1..])),
        Some(b'[') => {
            let inner = &text[1..];
            let close = inner
                .iter()
                .position(|&b| b == b']')
                .ok_or(LineError::WrongGroup)?;
            Ok(Line::Group(trim_end(&inner[..close])))
        }
        Some(_) => Ok(parse_option(text, indented)),
    }
}

/// Parses the text after `!`: `Ok(None)` for an unknown directive (ignored).
pub(crate) fn directive(rest: &[u8]) -> Result<Option<Directive<'_>>, LineError> {
    let rest = trim_start(rest);
    // `includedir` first: `include` is its prefix.
    for word in ["includedir", "include"] {
        if let Some(after) = rest.strip_prefix(word.as_bytes()) {
            if !after.first().copied().is_some_and(is_space) {
                continue;
            }
            let arg = trim_start(after);
            // MariaDB drops the last byte (meant to be the newline) and then
            // trailing whitespace; on a last line without a newline this eats
            // the last character of the path, and MariaDB does the same.
            let arg = match arg.split_last() {
                Some((_, head)) => trim_end(head),
                None => arg,
            };
            if arg.is_empty() {
                return Err(LineError::WrongDirective(word));
            }
            return Ok(Some(if word == "includedir" {
                Directive::IncludeDir(arg)
            } else {
                Directive::Include(arg)
            }));
        }
    }
    Ok(None)
}

/// The end of the text before a `#` comment that is outside quotes.
fn comment_start(text: &[u8]) -> usize {
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, &b) in text.iter().enumerate() {
        if (b == b'\'' || b == b'"') && !escaped {
            match quote {
                None => quote = Some(b),
                Some(q) if q == b => quote = None,
                Some(_) => {}
            }
        }
        if quote.is_none() && b == b'#' {
            return i;
        }
        escaped = quote.is_some() && b == b'\\' && !escaped;
    }
    text.len()
}

fn parse_option(text: &[u8], indented: bool) -> Line<'_> {
    let text = &text[..comment_start(text)];
    let Some(eq) = text.iter().position(|&b| b == b'=') else {
        return Line::Option {
            key: trim_end(text).to_vec(),
            value: None,
        };
    };
    let key = if eq == 0 && indented {
        // An indented line starting with `=`: MariaDB's key trimming runs
        // back past the start of the text and then copies the whole rest of
        // the line (newline included) as the key. Reproduced as observed.
        text.to_vec()
    } else {
        trim_end(&text[..eq]).to_vec()
    };
    let mut value = trim_end(trim_start(&text[eq + 1..]));
    if let [first @ (b'"' | b'\''), inner @ .., last] = value {
        if first == last {
            value = inner;
        }
    }
    Line::Option {
        key,
        value: Some(unescape(value)),
    }
}

fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'\\' && i + 1 < value.len() {
            let next = value[i + 1];
            match next {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'b' => out.push(0x08),
                b's' => out.push(b' '),
                b'"' | b'\'' | b'\\' => out.push(next),
                _ => out.extend_from_slice(&[b'\\', next]),
            }
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(line: &str) -> (String, Option<String>) {
        match parse(line.as_bytes()) {
            Ok(Line::Option { key, value }) => (
                String::from_utf8_lossy(&key).into_owned(),
                value.map(|v| String::from_utf8_lossy(&v).into_owned()),
            ),
            other => panic!("{line:?} is not an option: {other:?}"),
        }
    }

    fn kv(k: &str, v: &str) -> (String, Option<String>) {
        (k.to_owned(), Some(v.to_owned()))
    }

    #[test]
    fn blank_and_comment_lines() {
        let lines: [&[u8]; 6] = [b"", b"\n", b"   \t\n", b"# c\n", b"  ; c\n", b"\xa0\x0b\n"];
        for line in lines {
            assert_eq!(parse(line), Ok(Line::Blank), "{line:?}");
        }
    }

    #[test]
    fn groups_keep_leading_space_and_drop_trailing() {
        assert_eq!(parse(b"[sst]\n"), Ok(Line::Group(b"sst")));
        assert_eq!(parse(b"  [sst  ] junk\n"), Ok(Line::Group(b"sst")));
        assert_eq!(parse(b"[ sst]\n"), Ok(Line::Group(b" sst")));
        assert_eq!(parse(b"[sst]]\n"), Ok(Line::Group(b"sst")));
        assert_eq!(parse(b"[]\n"), Ok(Line::Group(b"")));
        assert_eq!(parse(b"[sst\n"), Err(LineError::WrongGroup));
    }

    #[test]
    fn comments_only_outside_quotes() {
        assert_eq!(opt("a = b # c\n"), kv("a", "b"));
        assert_eq!(opt("a = b#c\n"), kv("a", "b"));
        assert_eq!(opt("a = b ; c\n"), kv("a", "b ; c"));
        assert_eq!(opt("a = \"b # c\" # d\n"), kv("a", "b # c"));
        assert_eq!(opt(" a\"b = c # d\" # e\n"), kv("a\"b", "c # d\""));
        assert_eq!(opt("a = 'x\\' # c\n"), kv("a", "'x' # c"));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(opt("a = \"x\"\n"), kv("a", "x"));
        assert_eq!(opt("a = 'x'\n"), kv("a", "x"));
        assert_eq!(opt("a = \"\"\n"), kv("a", ""));
        assert_eq!(opt("a = \"\n"), kv("a", "\""));
        assert_eq!(opt("a = 'x\"\n"), kv("a", "'x\""));
        assert_eq!(opt("a = \"a\" b\n"), kv("a", "\"a\" b"));
        assert_eq!(opt("a = 'x' 'y'\n"), kv("a", "x' 'y"));
        assert_eq!(opt("a = \"x\\\"\n"), kv("a", "x\\"));
        assert_eq!(
            opt("a = \\n\\t\\r\\b\\s\\\"\\'\\\\\\x\n"),
            kv("a", "\n\t\r\u{8} \"'\\\\x")
        );
    }

    #[test]
    fn keys_and_values_trimmed() {
        assert_eq!(opt("  log-bin  \n"), ("log-bin".to_owned(), None));
        assert_eq!(opt("a=\n"), kv("a", ""));
        assert_eq!(opt("a =  b = c  \r\n"), kv("a", "b = c"));
        assert_eq!(opt("key with space = v\n"), kv("key with space", "v"));
        assert_eq!(opt("=v\n"), kv("", "v"));
        assert_eq!(opt("  =v\n"), kv("=v\n", "v"));
    }

    #[test]
    fn directives() {
        fn d(s: &str) -> Result<Option<Directive<'_>>, LineError> {
            directive(s.as_bytes())
        }
        assert_eq!(
            d("include /a.cnf\n"),
            Ok(Some(Directive::Include(b"/a.cnf")))
        );
        assert_eq!(
            d("  include\t/a.cnf  \n"),
            Ok(Some(Directive::Include(b"/a.cnf")))
        );
        assert_eq!(d("includedir /d\n"), Ok(Some(Directive::IncludeDir(b"/d"))));
        assert_eq!(d("include /a.cnf"), Ok(Some(Directive::Include(b"/a.cn"))));
        assert_eq!(
            d("include /a # c\n"),
            Ok(Some(Directive::Include(b"/a # c")))
        );
        assert_eq!(d("include\n"), Err(LineError::WrongDirective("include")));
        assert_eq!(
            d("includedir  \n"),
            Err(LineError::WrongDirective("includedir"))
        );
        assert_eq!(d("include x"), Err(LineError::WrongDirective("include")));
        assert_eq!(d("includex /a\n"), Ok(None));
        assert_eq!(d("INCLUDE /a\n"), Ok(None));
        assert_eq!(d("include"), Ok(None));
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(opt("a=b\0c\n"), kv("a", "b"));
    }
}
