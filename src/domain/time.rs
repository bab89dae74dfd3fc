//! How times read to people — on pages and in emails alike, so an
//! invitation's expiry says the same thing in the inbox and on the members
//! page.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// How times are shown everywhere: UTC, to the minute, labelled
/// (`2026-12-01 13:05 UTC`). Written field by field: a members page shows
/// a hundred of them, and chrono's format strings are parsed on every call.
pub fn format_time(time: &NaiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute()
    )
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
