//! Top-ups through the payment provider: saved pending, credited once
//! when the provider's signed notification arrives; receipts.

use super::{Credit, MAX_TOP_UP, credit};
use crate::db::audit::Event;
use crate::db::billing::TopUpRow;
use crate::db::scope::Scope;
use crate::db::{self, Db, write_transaction};
use crate::domain::{FieldErrors, LedgerKind, Money, TopUpId, TopUpStatus};
use crate::services::ServiceError;
use crate::services::payments::{self, Card, PaymentProvider};

/// A top-up form as typed.
#[derive(Debug, Clone, Default)]
pub struct TopUpInput {
    /// Credits, as typed.
    pub amount: String,
    /// The card number, as typed.
    pub card_number: String,
}

/// Where a top-up ended.
#[derive(Debug, Clone)]
pub enum TopUpOutcome {
    /// Paid and credited: the receipt's id.
    Credited(TopUpId),
    /// The provider declined the card; the message says why.
    Declined(String),
    /// The provider will answer later, through the webhook.
    Pending(TopUpId),
}

/// Asks the provider for a top-up of the scoped wallet. The pending
/// top-up is saved first; the provider's signed notification, delivered
/// to [`receive_notification`] like any webhook, is what credits it.
pub async fn top_up(
    db: &Db,
    scope: &Scope,
    provider: &dyn PaymentProvider,
    webhook_secret: &[u8],
    input: &TopUpInput,
) -> Result<TopUpOutcome, ServiceError> {
    let mut errors = FieldErrors::new();
    let amount = errors.check("amount", Money::parse_credits(&input.amount, MAX_TOP_UP));
    let card = errors.check("card_number", Card::parse(&input.card_number));
    let (Some(amount), Some(card)) = (amount, card) else {
        return Err(ServiceError::Invalid(errors));
    };
    let pending = scope.clone();
    let last4 = card.last4().to_owned();
    let id = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::billing::create_top_up(conn, &pending, amount, &last4)
            })
        })
        .await?;
    let Some(notification) = provider.pay(&id, amount, &card) else {
        return Ok(TopUpOutcome::Pending(id));
    };
    let top_up = receive_notification(
        db,
        webhook_secret,
        &notification.body,
        &notification.signature,
    )
    .await?;
    match top_up.status {
        TopUpStatus::Succeeded => Ok(TopUpOutcome::Credited(id)),
        TopUpStatus::Pending => Ok(TopUpOutcome::Pending(id)),
        TopUpStatus::Declined => Ok(TopUpOutcome::Declined(top_up.decline_reason)),
    }
}

/// Handles the payment provider's notification (the webhook): checks its
/// signature, then settles the pending top-up it names — credited with its
/// ledger entry and audited, or declined — in one transaction. A repeat,
/// even at the same moment, finds it settled and changes nothing.
pub async fn receive_notification(
    db: &Db,
    webhook_secret: &[u8],
    body: &[u8],
    signature: &str,
) -> Result<TopUpRow, ServiceError> {
    let notification = payments::verify(webhook_secret, body, signature, chrono::Utc::now())
        .ok_or(ServiceError::SignatureRejected)?;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let id = &notification.top_up;
            let top_up = db::billing::top_up_by_id(conn, id)?;
            if top_up.amount != notification.amount {
                return Err(ServiceError::SignatureRejected);
            }
            let (status, reason) = match &notification.declined {
                None => (TopUpStatus::Succeeded, ""),
                Some(reason) => (TopUpStatus::Declined, reason.as_str()),
            };
            if !db::billing::settle_top_up(conn, id, status, reason)? {
                return Ok(db::billing::top_up_by_id(conn, id)?);
            }
            if status == TopUpStatus::Succeeded {
                credit_top_up(conn, &top_up)?;
            }
            Ok::<_, ServiceError>(db::billing::top_up_by_id(conn, id)?)
        })
    })
    .await
}

fn credit_top_up(conn: &mut db::AnyConnection, top_up: &TopUpRow) -> Result<(), ServiceError> {
    let amount = Money::from_micros(top_up.amount);
    let entry = credit(
        conn,
        &Credit {
            workspace: &top_up.workspace,
            kind: LedgerKind::TopUp,
            amount,
            idempotency_key: &format!("top_up:{}", top_up.id.as_str()),
            description: &format!("Top-up, card ending {}", top_up.card_last4),
            user: top_up.requested_by.as_ref(),
        },
    )?;
    db::billing::link_entry(conn, &top_up.id, &entry.id)?;
    let label = format!("{amount} credits");
    let event = Event::wallet_top_up(&top_up.id, &label)
        .with_details(format!("card ending {}", top_up.card_last4));
    db::audit::record_by_system(conn, top_up.workspace.workspace_id(), &event)?;
    Ok(())
}

/// A top-up of the scoped wallet, for its receipt.
pub async fn receipt(db: &Db, scope: &Scope, id: TopUpId) -> Result<TopUpRow, ServiceError> {
    let scope = scope.clone();
    Ok(db
        .run(move |conn| db::billing::top_up(conn, &scope, &id))
        .await?)
}
