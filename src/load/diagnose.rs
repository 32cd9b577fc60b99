//! Finding what is wrong with an input file that polars could not read, so the message can
//! name the file, the line, the column and what to change. These checks read a whole file and
//! run only after a read has failed; a run that reads its files never pays for them.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use crate::config::CsvOptions;
use crate::error::InputError;

/// Runs `f`, turning a panic inside it (a reader's assertion on damaged data) into an error
/// that carries the panic's message.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(anyhow::anyhow!(
            "the reader stopped on data it could not decode ({})",
            panic_message(payload.as_ref())
        )),
    }
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// "utf-16le" or "utf-16be" when `bytes`, the start of a file, look like UTF-16 text: a
/// byte-order mark, or a zero byte in every other place (ASCII text in UTF-16).
pub fn sniff_utf16(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xFE, ..] => return Some("utf-16le"),
        [0xFE, 0xFF, ..] => return Some("utf-16be"),
        _ => {}
    }
    let head = &bytes[..bytes.len().min(4096) & !1];
    if head.len() < 8 {
        return None;
    }
    let pairs = head.len() / 2;
    let zero_at = |odd: usize| head.chunks(2).filter(|p| p[odd] == 0).count();
    let (even, odd) = (zero_at(0), zero_at(1));
    // Text in UTF-16 has a zero in one place of nearly every pair and none in the other.
    if odd * 10 >= pairs * 9 && even * 10 < pairs {
        Some("utf-16le")
    } else if even * 10 >= pairs * 9 && odd * 10 < pairs {
        Some("utf-16be")
    } else {
        None
    }
}

fn csv_reader<R: std::io::Read>(source: R, options: &CsvOptions) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(source)
}

/// The header of a CSV text, as the names polars will see (a leading byte-order mark
/// dropped), or a duplicated name as an error.
pub fn check_header(file: &Path, text: &[u8], options: &CsvOptions) -> Result<()> {
    let mut reader = csv_reader(text, options);
    let mut header = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut header).unwrap_or(false) {
        return Ok(());
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let n = String::from_utf8_lossy(n).into_owned();
            if i == 0 {
                n.trim_start_matches('\u{feff}').to_string()
            } else {
                n
            }
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|n| n == name) {
            return Err(InputError::DuplicateColumn {
                file: file.to_path_buf(),
                column: name.clone(),
                first: j + 1,
                second: i + 1,
            }
            .into());
        }
    }
    Ok(())
}

/// What is wrong with a CSV text whose reading failed: a line with more fields than the
/// header, a quote that is never closed, or text that is not UTF-8 (`text` is the file's bytes
/// as polars read them: decoded to UTF-8 when an encoding was set). `None` when none of these
/// is found.
pub fn csv_problem(file: &Path, text: &[u8], options: &CsvOptions) -> Option<InputError> {
    if options.encoding.eq_ignore_ascii_case("utf-8")
        || options.encoding.eq_ignore_ascii_case("utf8")
    {
        if let Some(encoding) = sniff_utf16(text) {
            return Some(InputError::LooksUtf16 {
                file: file.to_path_buf(),
                encoding: encoding.to_string(),
            });
        }
    }
    let mut reader = csv_reader(text, options);
    let mut record = csv::ByteRecord::new();
    let mut header: Vec<String> = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(_) => return None,
        }
        let line = record.position().map_or(0, |p| p.line());
        if header.is_empty() {
            header = record
                .iter()
                .map(|n| {
                    String::from_utf8_lossy(n)
                        .trim_start_matches('\u{feff}')
                        .to_string()
                })
                .collect();
            continue;
        }
        for (i, field) in record.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(field) {
                let at = e.valid_up_to();
                return Some(InputError::InvalidUtf8 {
                    file: file.to_path_buf(),
                    line,
                    column: header
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", i + 1)),
                    example: String::from_utf8_lossy(field).into_owned(),
                    bytes: field[at..field.len().min(at + 4)]
                        .iter()
                        .map(|b| format!("{b:02X}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                });
            }
        }
        let spans_lines = record.iter().any(|f| f.contains(&b'\n'));
        if record.len() != header.len() && spans_lines {
            return Some(InputError::UnclosedQuote {
                file: file.to_path_buf(),
                line,
            });
        }
        if record.len() > header.len() {
            return Some(InputError::RaggedLine {
                file: file.to_path_buf(),
                line,
                fields: record.len(),
                header: header.len(),
                delimiter: options.delimiter as char,
            });
        }
    }
}

/// What is wrong with a Parquet file whose reading failed: every page is decoded (a damaged
/// page makes polars' reader fail or assert). `None` when the whole file reads.
pub fn parquet_problem(file: &Path) -> Option<InputError> {
    let read = catch_panic(|| {
        let lf = LazyFrame::scan_parquet(
            PlRefPath::new(file.to_string_lossy().as_ref()),
            Default::default(),
        )?;
        // A null count of every column decodes every page of the file.
        crate::clean::collect_streaming(lf.select([all().as_expr().null_count()]))?;
        Ok(())
    });
    read.err().map(|e| InputError::DamagedParquet {
        file: file.to_path_buf(),
        detail: format!("{e:#}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(delimiter: u8) -> CsvOptions {
        CsvOptions {
            delimiter,
            encoding: "utf-8".into(),
            decimal_comma: false,
            null_values: Vec::new(),
        }
    }

    fn problem(text: &[u8]) -> String {
        csv_problem(Path::new("t.csv"), text, &options(b','))
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn ragged_lines_quotes_and_bad_bytes_are_placed() {
        let e = problem(b"c,d,a\nx,1,2\ny,3,4,5\n");
        assert!(
            e.contains("line 3") && e.contains("4 fields") && e.contains("3"),
            "{e}"
        );
        let e = problem(b"c,d,a\nx,1,2\n\"y,3,4\nz,5,6\n");
        assert!(e.contains("line 3") && e.contains("quote"), "{e}");
        let e = problem(b"c,d,a\nx,1,2\nq\xff\xfe,3,4\n");
        assert!(
            e.contains("line 3") && e.contains("column \"c\"") && e.contains("FF FE"),
            "{e}"
        );
        assert_eq!(problem(b"c,d,a\nx,1,2\n\"y\n1\",3,4\n"), "");
    }

    #[test]
    fn utf16_is_recognised_with_and_without_a_mark() {
        let text = "c,d,a\nx,2024-01-01,3\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(sniff_utf16(&le), Some("utf-16le"));
        assert_eq!(sniff_utf16(&be), Some("utf-16be"));
        let mut marked = vec![0xFF, 0xFE];
        marked.extend(&le);
        assert_eq!(sniff_utf16(&marked), Some("utf-16le"));
        assert_eq!(sniff_utf16(text.as_bytes()), None);
        assert!(problem(&le).contains("utf-16le"));
    }

    #[test]
    fn duplicated_column_names_are_named() {
        let e = check_header(
            Path::new("t.csv"),
            b"\xEF\xBB\xBFa,b,a\n1,2,3\n",
            &options(b','),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"a\"") && e.contains("1 and 3"), "{e}");
        assert!(check_header(Path::new("t.csv"), b"a;b;a\n", &options(b',')).is_ok());
    }

    #[test]
    fn panics_become_errors() {
        let e = catch_panic::<()>(|| panic!("assertion failed: offset")).unwrap_err();
        assert!(e.to_string().contains("assertion failed: offset"), "{e}");
    }
}
