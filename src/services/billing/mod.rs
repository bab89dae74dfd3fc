//! Wallets: the charge the platform makes with a project's key, top-ups
//! through the payment provider, and the spend controls a wallet's
//! managers set.
//!
//! Every change of a balance is one transaction with its ledger entry and
//! an idempotency key, so a repeated request changes nothing and answers
//! what the first did. A charge is one conditional update (balance,
//! monthly limit, allowed model, workspace active) and its entry; a
//! top-up is credited only by the provider's signed notification, once.
//!
//! One module per capability: [`charges`], [`top_ups`], [`coupons`],
//! [`funding`], [`plans`], [`controls`] and the page's [`overview`]; what
//! they share (crediting a wallet, the month) is here.

mod charges;
mod controls;
mod coupons;
mod funding;
mod overview;
mod plans;
mod top_ups;

pub use charges::*;
pub use controls::*;
pub use coupons::*;
pub use funding::*;
pub use overview::*;
pub use plans::*;
pub use top_ups::*;

use crate::db::audit::Event;
use crate::db::billing::{EntryRow, NewEntry};
use crate::db::scope::Tenant;
use crate::db::{self};
use crate::domain::{LedgerKind, Money, UserId};
use crate::services::ServiceError;

/// The largest single charge: a million credits.
pub const MAX_CHARGE: Money = Money::credits(1_000_000);
/// The largest single top-up.
pub const MAX_TOP_UP: Money = Money::credits(100_000);
/// The largest monthly spend limit.
pub const MAX_MONTHLY_LIMIT: Money = Money::credits(1_000_000);
/// The longest idempotency key, model name and charge description.
const MAX_KEY_CHARS: usize = 255;
const MAX_MODEL_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// How many models an allow-list may hold.
const MAX_MODELS: usize = 100;

/// The current calendar month, `YYYY-MM` (UTC): what spend limits count.
pub fn current_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// A credit to a wallet: the money, its ledger entry's key and words.
struct Credit<'a> {
    workspace: &'a Tenant,
    kind: LedgerKind,
    amount: Money,
    idempotency_key: &'a str,
    description: &'a str,
    user: Option<&'a UserId>,
}

/// Adds money to a wallet with its ledger entry and, if the workspace was
/// suspended, reactivates it (audited as Tenantry's doing): what every
/// top-up, coupon and transfer in does, inside the caller's transaction.
fn credit(conn: &mut db::AnyConnection, credit: &Credit<'_>) -> Result<EntryRow, ServiceError> {
    let balance_after = db::billing::credit(conn, credit.workspace, credit.amount)?;
    let workspace = credit.workspace.workspace_id();
    let entry = db::billing::enter(
        conn,
        &NewEntry {
            workspace,
            kind: credit.kind,
            amount: credit.amount,
            balance_after,
            idempotency_key: credit.idempotency_key,
            request_digest: credit.idempotency_key,
            project: None,
            model: None,
            description: credit.description,
            user: credit.user,
        },
    )?;
    if db::billing::reactivate(conn, workspace)? {
        let event = Event::workspace_reactivate(workspace, "the workspace")
            .with_details(format!("its wallet was funded ({})", credit.description));
        db::audit::record_by_system(conn, workspace, &event)?;
    }
    Ok(entry)
}

/// Refuses to start agents and apps in a suspended workspace, read inside
/// the starting transaction.
pub fn refuse_if_suspended(
    conn: &mut db::AnyConnection,
    workspace: &Tenant,
) -> Result<(), ServiceError> {
    if db::billing::status_of(conn, workspace)?.is_suspended() {
        return Err(ServiceError::Refused(
            "This workspace is suspended until its wallet is topped up: agents and apps won't start.",
        ));
    }
    Ok(())
}
