//! The shape of every secret key Tenantry hands out (project keys, members'
//! API keys): `<marker><12 hex>_<64 hex>`, a public prefix to find the key
//! by and 256 random bits. Only a SHA-256 of a key is stored.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};

/// How long an answer about a presented key is reused: under the one
/// second within which a revoked key must be refused on every instance.
pub const FRESH_FOR: Duration = Duration::from_millis(800);

/// Live keys remembered at once; the least used go first beyond it.
const CAPACITY: u64 = 100_000;

/// What was found for recently presented live keys, by the SHA-256 of
/// the key (never the key itself), for at most [`FRESH_FOR`]: the API's
/// busiest paths skip the key's lookup, and a revocation, a removed member
/// or a suspension still shows within a second everywhere, with nothing to
/// invalidate between instances. Unknown keys aren't remembered, so a new
/// key works at once.
pub struct Recent<V: Send + Sync + 'static>(moka::sync::Cache<String, Arc<V>>);

impl<V: Send + Sync + 'static> Default for Recent<V> {
    fn default() -> Self {
        Recent(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(FRESH_FOR)
                .build(),
        )
    }
}

impl<V: Send + Sync + 'static> Clone for Recent<V> {
    fn clone(&self) -> Self {
        Recent(self.0.clone())
    }
}

impl<V: Send + Sync + 'static> Recent<V> {
    /// What was found for the key with this digest, if still fresh.
    pub fn get(&self, digest: &str) -> Option<Arc<V>> {
        self.0.get(digest)
    }

    /// Remembers what was found for the key with this digest.
    pub fn put(&self, digest: String, found: Arc<V>) {
        self.0.insert(digest, found);
    }

    /// Forgets every key, after a revocation on this instance: refused
    /// here at once, elsewhere within [`FRESH_FOR`].
    pub fn forget_all(&self) {
        self.0.invalidate_all();
    }
}

/// A fresh key and its public prefix (`<marker><12 hex>`): 48 + 256
/// random bits.
pub fn generate(marker: &str) -> (String, String) {
    let mut rng = rand::rng();
    let prefix = format!("{marker}{}", hex::encode(rng.random::<[u8; 6]>()));
    let key = format!("{prefix}_{}", hex::encode(rng.random::<[u8; 32]>()));
    (prefix, key)
}

/// The prefix of a presented key, if it has the shape of one with this
/// marker.
pub fn prefix_of<'a>(marker: &str, presented: &'a str) -> Option<&'a str> {
    let (prefix, secret) = presented.rsplit_once('_')?;
    let well_formed = prefix.len() == marker.len() + 12
        && prefix.starts_with(marker)
        && prefix[marker.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
        && secret.len() == 64
        && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some(prefix)
}

/// How a key is stored: SHA-256, hex. A key carries 256 random bits, so a
/// fast hash is enough (a slow one would only slow every API call).
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two digests in time independent of where they differ.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_one_shape_and_their_prefix_is_found_again() {
        let (prefix, key) = generate("tk_");
        assert!(key.starts_with(&format!("{prefix}_")));
        assert_eq!(prefix_of("tk_", &key), Some(prefix.as_str()));
        assert_eq!(prefix_of("tk_", "tk_short_abc"), None);
        assert_eq!(prefix_of("tk_", &key.replace("tk_", "xx_")), None);
        assert_eq!(prefix_of("tkm_", &key), None, "another kind of key");
        assert_ne!(generate("tk_").1, key, "random");
        assert!(same_digest(&hash(&key), &hash(&key)));
        assert!(!same_digest(&hash(&key), &hash("other")));
    }
}
