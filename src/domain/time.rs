//! How times read to people — on pages and in emails alike, so an
//! invitation's expiry says the same thing in the inbox and on the members
//! page.

use chrono::NaiveDateTime;

/// How times are shown everywhere: UTC, to the minute, labelled.
pub fn format_time(time: &NaiveDateTime) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}
