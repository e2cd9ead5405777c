//! RFC 3339 timestamps as microseconds since the Unix epoch, without a
//! clock: the form every time is stored and compared in. The calendar
//! arithmetic is jiff's.

use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::fmt::temporal::{DateTimePrinter, Pieces};

static PRINTER: DateTimePrinter = DateTimePrinter::new().precision(Some(6));
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// Formats `micros` since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`
/// (clamped to years -9999 to 9999).
pub fn format(micros: i64) -> String {
    let at = EPOCH
        .checked_add(SignedDuration::from_micros(micros))
        .unwrap_or(if micros < 0 {
            DateTime::MIN
        } else {
            DateTime::MAX
        });
    let mut out = PRINTER.datetime_to_string(&at);
    out.push('Z');
    out
}

/// Parses an RFC 3339 date-time (`2026-11-28T18:40:46Z`, fractional seconds
/// and `±hh:mm` offsets allowed) into microseconds since the epoch.
///
/// jiff reads the wider Temporal grammar (basic formats, time-zone
/// annotations, minutes without seconds); what RFC 3339 does not allow is
/// refused here first, so a filter's dateTime means one thing.
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let rfc3339 = b.len() >= 20
        && s.is_ascii()
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && !s.contains('[')
        && (s.ends_with(['Z', 'z']) || b[b.len() - 3] == b':');
    if !rfc3339 {
        return None;
    }
    let normal = s.replacen([' ', 't'], "T", 1);
    let pieces = Pieces::parse(normal.as_bytes()).ok()?;
    let time = pieces.time()?;
    let offset = pieces.offset()?.to_numeric_offset();
    // From the civil date, not through `Timestamp`, whose range stops a
    // day short of 9999-12-31 (so that every offset fits).
    let since = pieces.date().to_datetime(time).duration_since(EPOCH);
    let micros = since.as_micros() - i128::from(offset.seconds()) * 1_000_000;
    i64::try_from(micros).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for micros in [
            0,
            1,
            1_795_000_000_123_456,
            -86_400_000_001,
            951_782_400_000_000,
            253_402_300_799_999_999,
        ] {
            assert_eq!(parse(&format(micros)), Some(micros), "{}", format(micros));
        }
        assert_eq!(format(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse("1970-01-01T00:00:00.5Z"), Some(500_000));
        assert_eq!(parse("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        // RFC 3339 §5.6's lower-case and space forms, and a leap second.
        assert_eq!(parse("1970-01-01t00:00:01z"), Some(1_000_000));
        assert_eq!(parse("1970-01-01 00:00:01Z"), Some(1_000_000));
        assert_eq!(parse("2016-12-31T23:59:60Z"), parse("2016-12-31T23:59:59Z"));
        // Digits past the microsecond are dropped.
        assert_eq!(parse("1970-01-01T00:00:00.1234567Z"), Some(123_456));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00+1:00",
            "２026-01-01T00:00:00Z",
            // Temporal and ISO 8601 forms that are not RFC 3339.
            "2026-01-01T00:00:00Z[UTC]",
            "20260101T000000Z",
            "2026-01-01T00:00Z",
            "2026-01-01T00:00:00+0100",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    /// Regression: a multi-byte character where the offset starts used to
    /// panic (a `str` sliced inside it), answering a filter with 500.
    #[test]
    fn non_ascii_in_any_position_is_refused_not_a_panic() {
        let valid = "2026-01-01T00:00:00.123+01:00";
        for insert in ["é", "€", "𝄞", "\u{0}"] {
            for at in 0..=valid.len() {
                let mut bad = valid.to_owned();
                bad.insert_str(at, insert);
                assert_eq!(parse(&bad), None, "{bad:?}");
                let mut replaced = valid.to_owned();
                replaced.replace_range(at..(at + 1).min(valid.len()), insert);
                let _ = parse(&replaced);
            }
        }
        assert_eq!(parse("2026-01-01T00:00:00é1234"), None);
    }
}
