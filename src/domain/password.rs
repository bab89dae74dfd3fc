//! The password policy of ASVS V2.1: 8 to 1024 characters, anything allowed
//! (spaces, Unicode), nothing truncated, no composition rules, and the very
//! common passwords refused. Longer input is refused *before* hashing so a
//! megabyte-long password costs nothing.

use std::fmt;

/// Shortest password accepted.
pub const MIN_CHARS: usize = 8;
/// Longest password accepted; anything longer is refused, never truncated.
pub const MAX_CHARS: usize = 1024;
/// Passwords longer than this are not "very common" and skip the strength
/// estimate (its cost grows with length).
const STRENGTH_CHECK_MAX_CHARS: usize = 64;

/// A new password that satisfies the policy. Only ever built by
/// [`Password::parse_new`]; `Debug` never prints it.
#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused, worded for the person typing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Under the minimum length.
    #[error("Use at least 8 characters.")]
    TooShort,
    /// Over the maximum length.
    #[error("Use at most 1024 characters.")]
    TooLong,
    /// Among the passwords attackers try first.
    #[error("This password is too common; choose one that is harder to guess.")]
    TooCommon,
}

impl Password {
    /// Checks a password being set (sign-up, change). `context` holds words
    /// the attacker knows about this person (email, name), which make a
    /// password guessable when it is built from them.
    pub fn parse_new(input: &str, context: &[&str]) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        if chars <= STRENGTH_CHECK_MAX_CHARS
            && zxcvbn::zxcvbn(input, context).score() == zxcvbn::Score::Zero
        {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(input.to_owned()))
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether a password typed at sign-in is worth hashing at all: an empty or
/// over-long one is refused without spending argon2 time on it.
pub fn plausible_for_sign_in(input: &str) -> bool {
    !input.is_empty() && input.chars().count() <= MAX_CHARS
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_count_characters_not_bytes() {
        assert_eq!(
            Password::parse_new("short", &[]).err(),
            Some(PasswordError::TooShort)
        );
        assert!(Password::parse_new("ääääääää ß long enough phrase", &[]).is_ok());
        assert_eq!(
            Password::parse_new(&"ab1!".repeat(257), &[]).err(),
            Some(PasswordError::TooLong)
        );
        assert!(Password::parse_new(&"correct horse ".repeat(73)[..1022], &[]).is_ok());
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in [
            "password",
            "12345678",
            "password1",
            "qwertyuiop",
            "iloveyou",
        ] {
            assert_eq!(
                Password::parse_new(common, &[]).err(),
                Some(PasswordError::TooCommon),
                "{common}"
            );
        }
        assert!(Password::parse_new("violet staple orbit 42", &[]).is_ok());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let password = Password::parse_new("violet staple orbit 42", &[]).expect("valid");
        assert!(!format!("{password:?}").contains("violet"));
    }
}
