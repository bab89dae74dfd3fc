//! Email addresses as accounts know them: trimmed, lowercased (so that
//! `Ann@Example.com` and `ann@example.com` are one account) and checked for
//! a plausible shape. Deliverability is proven by sending mail, not by regex.

use std::fmt;

/// The longest address SMTP can carry (RFC 5321 path limit).
const MAX_LEN: usize = 254;

/// A syntactically plausible, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an address was refused, worded for the person typing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was typed.
    #[error("Enter your email address.")]
    Empty,
    /// Over the SMTP limit.
    #[error("That email address is too long.")]
    TooLong,
    /// Not of the form `name@domain.tld`.
    #[error("Enter an email address like name@example.com.")]
    Malformed,
}

impl Email {
    /// Validates and normalises untrusted input.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_lowercase();
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if domain_ok && local_ok {
            Ok(Self(normalised))
        } else {
            Err(EmailError::Malformed)
        }
    }

    /// The normalised address, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").map(|e| e.0),
            Ok("ann@example.com".into())
        );
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@exa mple.com",
            "ann@.example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(300))),
            Err(EmailError::TooLong)
        );
    }
}
