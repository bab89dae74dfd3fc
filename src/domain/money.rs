//! Money: integer micro-credits (1 credit = 1 000 000), never floats, so a
//! balance is always exactly the sum of its ledger entries. Parsed from
//! what people type and formatted for them in this one place.

use std::fmt;

/// Micro-credits in one credit.
pub const MICROS_PER_CREDIT: i64 = 1_000_000;

/// An amount in micro-credits. Signed: a ledger entry's debit is negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a typed amount was not accepted; the message is shown beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a number of credits.
    #[error("Enter an amount in credits, such as 25 or 12.50.")]
    Malformed,
    /// More decimals than a micro-credit has.
    #[error("Use at most 6 decimals.")]
    TooPrecise,
    /// Zero or negative.
    #[error("Enter an amount above 0.")]
    NotPositive,
    /// Above the bound of the form it was typed in.
    #[error("Enter at most {0} credits.")]
    TooLarge(Money),
}

impl Money {
    /// Zero credits.
    pub const ZERO: Money = Money(0);

    /// The amount of `micros` micro-credits.
    pub const fn from_micros(micros: i64) -> Self {
        Money(micros)
    }

    /// Whole credits.
    pub const fn credits(credits: i64) -> Self {
        Money(credits * MICROS_PER_CREDIT)
    }

    /// The amount in micro-credits, as stored.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parses a positive amount of credits as people type it ("25",
    /// "12.5", "1 000,00" is refused: one decimal point, no grouping) of
    /// at most `max`.
    pub fn parse_credits(typed: &str, max: Money) -> Result<Money, AmountError> {
        let typed = typed.trim();
        let (whole, fraction) = typed.split_once('.').unwrap_or((typed, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
            return Err(AmountError::Malformed);
        }
        if fraction.len() > 6 {
            return Err(AmountError::TooPrecise);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::TooLarge(max))?
        };
        let fraction: i64 = format!("{fraction:0<6}")
            .parse()
            .map_err(|_| AmountError::Malformed)?;
        let micros = whole
            .checked_mul(MICROS_PER_CREDIT)
            .and_then(|w| w.checked_add(fraction))
            .ok_or(AmountError::TooLarge(max))?;
        match Money(micros) {
            amount if amount.0 <= 0 => Err(AmountError::NotPositive),
            amount if amount > max => Err(AmountError::TooLarge(max)),
            amount => Ok(amount),
        }
    }

    /// `part` as a whole percentage of `self` (0 when `self` is zero).
    pub fn percent_of_this(self, part: Money) -> i64 {
        if self.0 <= 0 {
            return 0;
        }
        i64::try_from(i128::from(part.0) * 100 / i128::from(self.0)).unwrap_or(i64::MAX)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Money {
    /// As a form field shows it for editing: like `Display`, without the
    /// thousands separators, so it parses back with [`Money::parse_credits`].
    pub fn typed(self) -> String {
        self.to_string().replace('\u{202f}', "")
    }
}

/// "1 234.50" credits: groups of thousands, at least two decimals, at
/// most six (trailing zeros beyond the second dropped), "-" for a debit.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let micros = self.0.unsigned_abs();
        let per = MICROS_PER_CREDIT.unsigned_abs();
        let (whole, fraction) = (micros / per, micros % per);
        let mut decimals = format!("{fraction:06}");
        while decimals.len() > 2 && decimals.ends_with('0') {
            decimals.pop();
        }
        let whole = whole.to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push('\u{202f}');
            }
            grouped.push(digit);
        }
        write!(f, "{sign}{grouped}.{decimals}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Money = Money::credits(10_000);

    #[test]
    fn parses_what_people_type() {
        assert_eq!(Money::parse_credits("25", MAX), Ok(Money::credits(25)));
        assert_eq!(
            Money::parse_credits(" 12.5 ", MAX),
            Ok(Money::from_micros(12_500_000))
        );
        assert_eq!(
            Money::parse_credits(".000001", MAX),
            Ok(Money::from_micros(1))
        );
        assert_eq!(
            Money::parse_credits("0", MAX),
            Err(AmountError::NotPositive)
        );
        assert_eq!(Money::parse_credits("-5", MAX), Err(AmountError::Malformed));
        assert_eq!(
            Money::parse_credits("1e3", MAX),
            Err(AmountError::Malformed)
        );
        assert_eq!(Money::parse_credits("", MAX), Err(AmountError::Malformed));
        assert_eq!(Money::parse_credits(".", MAX), Err(AmountError::Malformed));
        assert_eq!(
            Money::parse_credits("1.0000001", MAX),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Money::parse_credits("10000.01", MAX),
            Err(AmountError::TooLarge(MAX))
        );
        assert_eq!(
            Money::parse_credits("99999999999999999999", MAX),
            Err(AmountError::TooLarge(MAX))
        );
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(Money::credits(25).to_string(), "25.00");
        assert_eq!(Money::from_micros(12_500_000).to_string(), "12.50");
        assert_eq!(Money::from_micros(1).to_string(), "0.000001");
        assert_eq!(
            Money::from_micros(-1_234_567_890_000).to_string(),
            "-1\u{202f}234\u{202f}567.89"
        );
        assert_eq!(Money::ZERO.to_string(), "0.00");
        let big = Money::credits(1_234_567);
        assert_eq!(
            Money::parse_credits(&big.typed(), Money::credits(2_000_000)),
            Ok(big)
        );
    }
}
