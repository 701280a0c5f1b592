//! Where every record goes: one JSON line on stdout, flushed, for both
//! functions' audit records and the KMS-use record (stderr carries the
//! logs, so a log line can never be mistaken for a record).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (audit `time_ms`, EMF `Timestamp`).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Write one record line to stdout and flush it, reporting failure (unlike
/// `println!`, which panics): the caller decides what a lost record means.
pub fn write_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}
