//! Spend controls a wallet's managers set: the monthly limit, the limit
//! per member and the models that may be charged.

use super::{MAX_MODEL_CHARS, MAX_MODELS, MAX_MONTHLY_LIMIT};
use crate::db::audit::{Actor, Event};
use crate::db::scope::Scope;
use crate::db::{self, Db, write_transaction};
use crate::domain::{FieldErrors, Money};
use crate::services::ServiceError;

/// The spend-controls form as typed.
#[derive(Debug, Clone, Default)]
pub struct ControlsInput {
    /// Monthly spend limit in credits (empty: none).
    pub monthly_limit: String,
    /// Monthly limit per member in credits (empty: none).
    pub member_limit: String,
    /// Allowed models, one per line or comma-separated (empty: all).
    pub allowed_models: String,
}

/// Sets the scoped wallet's monthly spend limit and model allow-list,
/// audited.
pub async fn set_controls(
    db: &Db,
    scope: &Scope,
    input: &ControlsInput,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    let mut optional = |field: &'static str, typed: &str| {
        if typed.trim().is_empty() {
            None
        } else {
            errors.check(field, Money::parse_credits(typed, MAX_MONTHLY_LIMIT))
        }
    };
    let limit = optional("monthly_limit", &input.monthly_limit);
    let member_limit = optional("member_limit", &input.member_limit);
    let models = parse_models(&input.allowed_models, &mut errors);
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            db::billing::set_controls(conn, &scope, limit, member_limit, models.as_deref())?;
            let event = Event::wallet_controls(scope.workspace_id(), &scope.workspace().name)
                .with_details(format!(
                    "monthly limit {}; per member {}; models {}",
                    limit.map_or("none".to_owned(), |l| format!("{l} credits")),
                    member_limit.map_or("none".to_owned(), |l| format!("{l} credits")),
                    models.as_ref().map_or("all".to_owned(), |m| m.join(", "))
                ));
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(())
        })
    })
    .await
}

/// The allow-list as typed: `None` (every model) when empty.
fn parse_models(typed: &str, errors: &mut FieldErrors) -> Option<Vec<String>> {
    let mut models: Vec<String> = typed
        .split([',', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    models.sort();
    models.dedup();
    let bad = models.iter().find(|m| {
        m.chars().count() > MAX_MODEL_CHARS
            || !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/@-".contains(&b))
    });
    if let Some(bad) = bad {
        errors.add(
            "allowed_models",
            format!("“{bad}” isn't a model name: use letters, digits and . _ : / @ -."),
        );
    } else if models.len() > MAX_MODELS {
        errors.add("allowed_models", "List at most 100 models.");
    }
    (!models.is_empty()).then_some(models)
}
