//! How times read to people — on pages and in emails alike, so an
//! invitation's expiry says the same thing in the inbox and on the members
//! page.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// How times are shown everywhere: UTC, to the minute, labelled
/// (`2026-12-01 13:05 UTC`).
pub fn format_time(time: &NaiveDateTime) -> String {
    UtcMinute(*time).to_string()
}

/// A time as [`format_time`] shows it, written where it is displayed (a
/// template writes it into the page without a `String` of its own). Digit
/// by digit: a members page shows a hundred of them, and chrono's format
/// strings are parsed on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcMinute(pub NaiveDateTime);

impl std::fmt::Display for UtcMinute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        let digits = |value: u32, out: &mut [u8]| {
            let mut rest = value;
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        };
        // Years outside 0..=9999 are not stored; they would lose digits.
        let year = u32::try_from(t.year()).unwrap_or(0).min(9999);
        let mut text = *b"0000-00-00 00:00 UTC";
        digits(year, &mut text[0..4]);
        digits(t.month(), &mut text[5..7]);
        digits(t.day(), &mut text[8..10]);
        digits(t.hour(), &mut text[11..13]);
        digits(t.minute(), &mut text[14..16]);
        f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn reads_as_utc_to_the_minute() {
        let time = chrono::NaiveDate::from_ymd_opt(2026, 3, 7)
            .and_then(|d| d.and_hms_opt(9, 5, 59))
            .expect("a valid time");
        assert_eq!(format_time(&time), "2026-03-07 09:05 UTC");
        assert_eq!(
            format_time(&time),
            time.format("%Y-%m-%d %H:%M UTC").to_string(),
            "the same as chrono's format"
        );
    }
}
