//! The payment provider: the interface a real one (Stripe, Adyen) would
//! implement, the built-in sandbox, and the signed notification through
//! which either tells Tenantry that a payment succeeded or was declined.
//!
//! As with real providers, nothing is credited when the card is asked:
//! only a notification whose HMAC-SHA256 signature checks out settles a
//! top-up (`services::billing::receive_notification`, also behind the
//! webhook endpoint). The sandbox answers at once with such a notification,
//! so the whole flow runs offline; its test cards are in the README.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::{Money, TopUpId};

/// How old a notification's signature may be before it is refused
/// (replays of an old capture).
const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// A card number as typed, reduced to its digits and checked (length and
/// Luhn checksum); only its last four digits are ever stored.
#[derive(Clone)]
pub struct Card(String);

/// Why a card number was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Not 12–19 digits (spaces and hyphens allowed).
    #[error("Enter the card number: 12 to 19 digits.")]
    Malformed,
    /// The checksum fails: a typo.
    #[error("This card number has a typo: check its digits.")]
    Checksum,
}

impl Card {
    /// Checks a typed card number.
    pub fn parse(typed: &str) -> Result<Card, CardError> {
        let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::Malformed);
        }
        let sum: u32 = digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                match (i % 2 == 1, d * 2) {
                    (true, doubled) if doubled > 9 => doubled - 9,
                    (true, doubled) => doubled,
                    (false, _) => d,
                }
            })
            .sum();
        if !sum.is_multiple_of(10) {
            return Err(CardError::Checksum);
        }
        Ok(Card(digits))
    }

    /// The last four digits (for the receipt).
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

/// What a provider tells Tenantry about a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The top-up it settles.
    pub top_up: TopUpId,
    /// Micro-credits paid (must match the top-up).
    pub amount: i64,
    /// `None` when paid; the issuer's reason when declined.
    pub declined: Option<String>,
}

/// A notification as it travels: the JSON body and its signature header.
#[derive(Debug, Clone)]
pub struct SignedNotification {
    /// The body, as sent.
    pub body: Vec<u8>,
    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
    pub signature: String,
}

/// A payment provider. `pay` asks the card for the money; a provider that
/// answers at once (the sandbox) returns its notification for delivery,
/// one that answers later returns `None` and calls the webhook.
pub trait PaymentProvider: Send + Sync {
    /// Asks for `amount` on `card` for the top-up `top_up`.
    fn pay(&self, top_up: &TopUpId, amount: Money, card: &Card) -> Option<SignedNotification>;
}

/// The built-in provider: no network, documented test cards.
pub struct Sandbox {
    secret: Vec<u8>,
}

/// The sandbox's test cards and what each does.
pub const TEST_CARDS: &[(&str, Option<&str>)] = &[
    ("4242424242424242", None),
    ("4000000000000002", Some("Your card was declined.")),
    (
        "4000000000009995",
        Some("Your card has insufficient funds."),
    ),
];

impl Sandbox {
    /// A sandbox that signs its notifications with the webhook secret.
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }
}

impl PaymentProvider for Sandbox {
    fn pay(&self, top_up: &TopUpId, amount: Money, card: &Card) -> Option<SignedNotification> {
        let declined = match TEST_CARDS.iter().find(|(number, _)| *number == card.0) {
            Some((_, outcome)) => outcome.map(str::to_owned),
            None => {
                Some("The sandbox takes only its test cards: 4242 4242 4242 4242 pays.".to_owned())
            }
        };
        let notification = Notification {
            top_up: top_up.clone(),
            amount: amount.micros(),
            declined,
        };
        let body = serde_json::to_vec(&notification).ok()?;
        Some(sign(&self.secret, body, chrono::Utc::now().timestamp()))
    }
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Signs `body` as a provider does, at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], body: Vec<u8>, timestamp: i64) -> SignedNotification {
    let signature = hex::encode(mac(secret, timestamp, &body).finalize().into_bytes());
    SignedNotification {
        body,
        signature: format!("t={timestamp},v1={signature}"),
    }
}

/// The notification in `body` if `signature` is the secret's, made
/// within the tolerance of `now`; `None` otherwise (compared in constant
/// time).
pub fn verify(
    secret: &[u8],
    body: &[u8],
    signature: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Notification> {
    let mut timestamp = None;
    let mut claimed = None;
    for part in signature.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => claimed = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (timestamp, claimed) = (timestamp?, claimed?);
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return None;
    }
    mac(secret, timestamp, body).verify_slice(&claimed).ok()?;
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_checked() {
        assert_eq!(
            Card::parse("4242 4242 4242 4242").map(|c| c.last4().to_owned()),
            Ok("4242".into())
        );
        assert_eq!(
            Card::parse("4242 4242 4242 4241").err(),
            Some(CardError::Checksum)
        );
        assert_eq!(Card::parse("4242").err(), Some(CardError::Malformed));
        assert_eq!(
            Card::parse("4242x4242x4242x4242").err(),
            Some(CardError::Malformed)
        );
    }

    #[test]
    fn only_a_fresh_signature_of_the_secret_verifies() {
        let now = chrono::Utc::now();
        let body = serde_json::to_vec(&Notification {
            top_up: TopUpId::generate(),
            amount: 5,
            declined: None,
        })
        .expect("json");
        let signed = sign(b"secret", body.clone(), now.timestamp());
        assert!(verify(b"secret", &body, &signed.signature, now).is_some());
        assert!(verify(b"other", &body, &signed.signature, now).is_none());
        let tampered = String::from_utf8(body.clone())
            .expect("utf-8")
            .replace("\"amount\":5", "\"amount\":9")
            .into_bytes();
        assert_ne!(tampered, body);
        assert!(verify(b"secret", &tampered, &signed.signature, now).is_none());
        let late = now + chrono::Duration::minutes(6);
        assert!(verify(b"secret", &body, &signed.signature, late).is_none());
        assert!(verify(b"secret", &body, "v1=00", now).is_none());
    }
}
