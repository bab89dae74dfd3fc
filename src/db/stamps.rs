//! Stored times read quickly. SQLite keeps a timestamp as text
//! (`2026-12-01 13:05:42.123456`), and diesel reads it by trying chrono
//! format strings one after another, about 1 500 instructions each: a
//! members page reads a hundred. Rows read per page view name their time
//! columns `#[diesel(deserialize_as = Stamp)]` (or [`MaybeStamp`]); the
//! stored form is read digit by digit, and anything else falls back to
//! diesel's reading. On PostgreSQL (a binary value) diesel's reading is
//! already cheap and is used as it is.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::Sqlite;

use super::MultiBackend;

/// A `TIMESTAMP` column, read into a `NaiveDateTime` field.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct Stamp(NaiveDateTime);

/// A nullable `TIMESTAMP` column, read into an `Option<NaiveDateTime>` field.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct MaybeStamp(Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> Self {
        stamp.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(stamp: MaybeStamp) -> Self {
        stamp.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if let Some(time) = parse_stored(value.read_text()) {
            return Ok(Stamp(time));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

/// Through the `MultiConnection` wrapper: whichever backend it wraps.
impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

impl<DB> FromSql<Nullable<Timestamp>, DB> for MaybeStamp
where
    DB: Backend,
    Stamp: FromSql<Timestamp, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Stamp::from_sql(value).map(|stamp| MaybeStamp(Some(stamp.0)))
    }

    fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        value.map_or(Ok(MaybeStamp(None)), Self::from_sql)
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of up to nine digits,
/// the form diesel writes; `None` for anything else (or an impossible
/// date), which is then read the slow way.
fn parse_stored(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b' '
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |sum, &b| {
            b.is_ascii_digit().then(|| sum * 10 + u32::from(b - b'0'))
        })
    };
    let nanos = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let digits = number(20..bytes.len())?;
            digits * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)?.and_hms_nano_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_stored;
    use chrono::NaiveDateTime;

    #[test]
    fn reads_what_diesel_writes_and_nothing_else() {
        for text in [
            "2026-12-01 13:05:42",
            "2026-12-01 13:05:42.1",
            "2026-12-01 13:05:42.123456",
            "2026-12-01 13:05:42.123456789",
            "1999-02-28 00:00:00",
        ] {
            let expected =
                NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("a valid time");
            assert_eq!(parse_stored(text), Some(expected), "{text}");
        }
        for text in [
            "2026-02-30 00:00:00",
            "2026-12-01T13:05:42",
            "2026-12-01 13:05",
            "2026-12-01 13:05:42.",
            "2026-12-01 13:05:42Z",
            "2026-12-01 13:05:42.1234567890",
            "2460645.5",
            "20x6-12-01 13:05:42",
        ] {
            assert_eq!(parse_stored(text), None, "{text}");
        }
    }
}
