//! The `sst-tunnel(1)` manual page, generated from the clap definitions in
//! [`crate::cli`] so that it never drifts from `--help`. `sst-tunnel man`
//! prints it; the RPM build installs its output.
//!
//! Layout: the top command's NAME, SYNOPSIS, DESCRIPTION and OPTIONS; one
//! section per visible subcommand (its synopsis, description and options);
//! then the `--help` epilogue (my.cnf example, `[sst]` keys, exit codes)
//! verbatim in no-fill mode, and VERSION.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::Man;
use roff::{bold, roman, Roff};

use crate::cli::Cli;

/// Text width for the preformatted epilogue: the man indent (7 columns)
/// plus this fits an 80-column terminal.
const EPILOGUE_WIDTH: usize = 72;

/// Writes the whole page as roff to `w`.
pub fn write(w: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let top = Man::new(cmd.clone())
        .date(page_date())
        .manual("User Commands");
    // Every piece clap_mangen renders starts with the same preamble (an
    // empty document is exactly that preamble); keep only the first.
    let preamble = Roff::new().render();

    let mut out = Vec::new();
    top.render_title(&mut out)?;
    for piece in [
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ] {
        out.extend_from_slice(body(&top, piece, &preamble, false)?.as_bytes());
    }
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        let mut head = Roff::new();
        head.control("SH", [name.to_uppercase().as_str()]);
        out.extend_from_slice(strip(&head.render(), &preamble).as_bytes());
        let man = Man::new(sub.clone());
        for piece in [
            Man::render_synopsis_section,
            Man::render_description_section,
            Man::render_options_section,
        ] {
            out.extend_from_slice(body(&man, piece, &preamble, true)?.as_bytes());
        }
    }
    let epilogue = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|s| s.to_string())
        .unwrap_or_default();
    out.extend_from_slice(strip(&epilogue_section(&epilogue), &preamble).as_bytes());
    out.extend_from_slice(strip(&see_also(), &preamble).as_bytes());
    out.extend_from_slice(body(&top, Man::render_version_section, &preamble, false)?.as_bytes());
    w.write_all(&out)
}

/// The page as a string (for tests and callers that want to inspect it).
pub fn render() -> std::io::Result<String> {
    let mut out = Vec::new();
    write(&mut out)?;
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The page date: `SOURCE_DATE_EPOCH` when set (reproducible builds, as the
/// RPM build sets it), else today (UTC).
fn page_date() -> String {
    let when = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now);
    when.format("%Y-%m-%d").to_string()
}

type Piece = fn(&Man, &mut dyn Write) -> std::io::Result<()>;

/// Renders one clap_mangen section without the preamble; inside a
/// subcommand's section its headings become subsection headings.
fn body(man: &Man, piece: Piece, preamble: &str, demote: bool) -> std::io::Result<String> {
    let mut buf = Vec::new();
    piece(man, &mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let text = strip(&text, preamble);
    if !demote {
        return Ok(text);
    }
    Ok(text
        .lines()
        .map(|l| match l.strip_prefix(".SH ") {
            Some(rest) => format!(".SS {}\n", title_case(rest)),
            None => format!("{l}\n"),
        })
        .collect())
}

fn strip(text: &str, preamble: &str) -> String {
    text.strip_prefix(preamble).unwrap_or(text).to_owned()
}

/// `SYNOPSIS` -> `Synopsis`, as man-pages(7) writes subsection headings.
fn title_case(heading: &str) -> String {
    let mut chars = heading.chars();
    match chars.next() {
        Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
        None => String::new(),
    }
}

/// The `--help` epilogue. Unindented lines are prose and are filled as
/// paragraphs; indented lines (the my.cnf example and the two tables) keep
/// their layout, long rows wrapped under the block's last column.
fn epilogue_section(text: &str) -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["CONFIGURATION AND EXIT STATUS"]);
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut blank_before = false;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            blank_before = true;
            i += 1;
            continue;
        }
        let indented = line.starts_with(' ');
        let end = lines[i..]
            .iter()
            .position(|l| l.trim().is_empty() || l.starts_with(' ') != indented)
            .map_or(lines.len(), |n| i + n);
        let block = &lines[i..end];
        if indented {
            let hang = block.iter().map(|l| column_start(l)).max().unwrap_or(0);
            if blank_before {
                roff.control("sp", []);
            }
            roff.control("nf", []);
            for row in block {
                for part in wrap(row, EPILOGUE_WIDTH, hang) {
                    roff.text([roman(part)]);
                }
            }
            roff.control("fi", []);
        } else {
            roff.control("PP", []);
            for row in block {
                roff.text([roman(*row)]);
            }
        }
        blank_before = false;
        i = end;
    }
    roff.render()
}

fn see_also() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("rsync"),
        roman("(1), "),
        bold("my_print_defaults"),
        roman("(1), "),
        bold("mariadbd"),
        roman("(8)"),
    ]);
    roff.render()
}

/// Wraps a preformatted line at spaces to at most `width` columns (a word
/// longer than that stays whole); continuation lines are indented by `hang`.
fn wrap(line: &str, width: usize, hang: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest: String = line.to_owned();
    while rest.chars().count() > width {
        let Some(cut) = break_at(&rest, width.max(hang + 1)) else {
            break;
        };
        parts.push(rest[..cut].trim_end().to_owned());
        let tail = rest[cut..].trim_start().to_owned();
        if tail.is_empty() {
            return parts;
        }
        rest = format!("{}{tail}", " ".repeat(hang));
    }
    parts.push(rest);
    parts
}

/// Byte index of the last space at or before `width` characters that is
/// not part of the leading indentation.
fn break_at(line: &str, width: usize) -> Option<usize> {
    let lead = line.len() - line.trim_start().len();
    line.char_indices()
        .take(width + 1)
        .filter(|&(i, c)| c == ' ' && i > lead)
        .map(|(i, _)| i)
        .last()
}

/// Where the last column of a table row starts (after the last run of two or
/// more spaces), or the line's own indentation when it has no columns.
fn column_start(row: &str) -> usize {
    let lead = row.len() - row.trim_start().len();
    let body = &row[lead..];
    match body.rfind("  ") {
        Some(i) => {
            let after = &body[i..];
            lead + i + (after.len() - after.trim_start().len())
        }
        None => lead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_table_rows_under_their_last_column() {
        let row = "  sst-idle-timeout       no byte moved for this long = stalled, on both sides (donor: rsync --timeout; 0 = never) (default: 300)";
        let col = row.find("no byte").unwrap_or(0);
        assert_eq!(column_start(row), col);
        let parts = wrap(row, 72, col);
        assert!(parts.len() >= 2, "{parts:?}");
        assert!(parts.iter().all(|p| p.chars().count() <= 72), "{parts:?}");
        for p in &parts[1..] {
            assert_eq!(p.len() - p.trim_start().len(), col, "{parts:?}");
        }
        let joined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
        let original: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(joined, original);
    }

    #[test]
    fn short_lines_and_long_words_stay_whole() {
        assert_eq!(wrap("  [sst]", 72, 2), vec!["  [sst]".to_owned()]);
        let word = "x".repeat(100);
        assert_eq!(wrap(&word, 72, 0), vec![word]);
    }

    #[test]
    fn page_has_one_preamble_and_every_subcommand() {
        let page = render().unwrap_or_default();
        let preamble = Roff::new().render();
        assert_eq!(page.matches(preamble.trim_end()).count(), 1, "{page}");
        for sub in ["SST-TUNNEL JOINER", "SST-TUNNEL DONOR", "SST-TUNNEL DEMO"] {
            assert!(page.contains(&format!(".SH \"{sub}\"")), "{sub} in\n{page}");
        }
        assert!(
            !page.contains("SST-TUNNEL MAN"),
            "hidden man subcommand shown"
        );
        assert!(
            !page.contains("SST-TUNNEL HELP"),
            "clap's help subcommand shown"
        );
    }
}
