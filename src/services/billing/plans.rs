//! Plans: a wallet's managers choose one (its fee charged at once, each
//! plan's at most once a month); the fee job charges every month's fees
//! and suspends workspaces that can't pay.

use super::current_month;
use crate::config::PlanSpec;
use crate::db::audit::{Actor, Event};
use crate::db::billing::NewEntry;
use crate::db::scope::{Scope, Tenant};
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{LedgerKind, Money, WorkspaceId};
use crate::services::ServiceError;

/// The configured plan with this key.
pub fn plan<'a>(plans: &'a [PlanSpec], key: &str) -> Option<&'a PlanSpec> {
    plans.iter().find(|plan| plan.key == key)
}

/// What `paid` in `wallets.plan_fee_paid` and the fee's idempotency key
/// say for `plan` in `month`.
fn fee_period(month: &str, plan: &PlanSpec) -> String {
    format!("{month}:{}", plan.key)
}

/// Charges `plan`'s fee for `month` to `tenant`'s wallet unless it was charged
/// (by the ledger: a wallet that leaves a plan and comes back within the
/// month pays it once):
/// the withdrawal, its ledger entry and the paid mark, in the caller's
/// transaction. `false` when the balance doesn't cover it.
fn charge_fee(
    conn: &mut db::AnyConnection,
    tenant: &Tenant,
    plan: &PlanSpec,
    month: &str,
) -> Result<bool, ServiceError> {
    let period = fee_period(month, plan);
    let fee = Money::credits(i64::from(plan.monthly_credits));
    let key = format!("plan_fee:{period}");
    let paid_before = db::billing::entry_by_key(conn, tenant, &key)?.is_some();
    if fee > Money::ZERO && !paid_before {
        let Some(balance_after) = db::billing::withdraw(conn, tenant, fee)? else {
            return Ok(false);
        };
        db::billing::enter(
            conn,
            &NewEntry {
                workspace: tenant.workspace_id(),
                kind: LedgerKind::PlanFee,
                amount: -fee,
                balance_after,
                idempotency_key: &key,
                request_digest: &key,
                project: None,
                model: None,
                description: &format!("{} plan, {month}", plan.name),
                user: None,
            },
        )?;
    }
    db::billing::mark_fee_paid(conn, tenant, &period)?;
    Ok(true)
}

/// Moves the scoped wallet to another plan: its fee for this month is
/// charged at once (a plan's fee at most once a month, however often the
/// plan changes) and the limits it includes are set, in one transaction,
/// audited. Refused (on the form) when the balance can't pay the fee.
pub async fn change_plan(
    db: &Db,
    scope: &Scope,
    plans: &[PlanSpec],
    key: &str,
) -> Result<String, ServiceError> {
    let chosen = plan(plans, key)
        .cloned()
        .ok_or_else(|| ServiceError::invalid("plan", "Choose one of the plans."))?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::billing::set_plan(conn, &scope, &chosen)?;
                if !charge_fee(conn, &scope.tenant(), &chosen, &current_month())? {
                    return Err(ServiceError::invalid(
                        "plan",
                        &format!(
                            "The {} plan costs {} credits a month, more than the wallet holds: \
                             top up first.",
                            chosen.name,
                            Money::credits(i64::from(chosen.monthly_credits))
                        ),
                    ));
                }
                let event = Event::wallet_plan(&chosen.key, &chosen.name)
                    .with_details(format!("{} credits a month", chosen.monthly_credits));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(chosen.name.clone())
            })
        })
        .await;
    match outcome {
        // Back to a plan already paid for this month: nothing to charge.
        Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => Err(ServiceError::Refused(
            "This plan's fee for the month was just charged; reload the page.",
        )),
        other => other,
    }
}

/// Charges this month's plan fees that are due, wallet by wallet, each in
/// its own transaction; a wallet that can't pay has its workspace
/// suspended (audited) until it is funded. Safe on several instances at
/// once: a fee's ledger key is unique. Returns how many were charged.
pub async fn charge_plan_fees(db: &Db, plans: &[PlanSpec]) -> Result<usize, ServiceError> {
    let month = current_month();
    let mut charged = 0;
    for plan in plans.iter().filter(|p| p.monthly_credits > 0) {
        let (period, plan) = (fee_period(&month, plan), plan.clone());
        let month = month.clone();
        charged += db
            .run(move |conn| {
                let mut charged = 0;
                for workspace in db::billing::due_plan_fees(conn, &plan.key, &period, 500)? {
                    let paid = write_transaction(conn, |conn| {
                        if charge_fee(conn, &workspace, &plan, &month)? {
                            return Ok(true);
                        }
                        suspend_unpaid(conn, workspace.workspace_id(), &plan)?;
                        Ok::<_, ServiceError>(false)
                    });
                    match paid {
                        Ok(true) => charged += 1,
                        Ok(false) => {}
                        Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok::<_, ServiceError>(charged)
            })
            .await?;
    }
    Ok(charged)
}

fn suspend_unpaid(
    conn: &mut db::AnyConnection,
    workspace: &WorkspaceId,
    plan: &PlanSpec,
) -> Result<(), ServiceError> {
    if db::billing::suspend(conn, workspace)? {
        let event = Event::workspace_suspend(workspace, "the workspace").with_details(format!(
            "its wallet couldn't pay the {} plan's {} credits for the month",
            plan.name, plan.monthly_credits
        ));
        db::audit::record_by_system(conn, workspace, &event)?;
    }
    Ok(())
}

/// Runs [`charge_plan_fees`] every `interval`, for as long as the server.
pub async fn charge_plan_fees_forever(db: Db, plans: Vec<PlanSpec>, interval: std::time::Duration) {
    loop {
        match charge_plan_fees(&db, &plans).await {
            Ok(0) => {}
            Ok(charged) => tracing::info!(charged, "plan fees charged"),
            Err(error) => tracing::warn!(%error, "plan fees: will try again"),
        }
        tokio::time::sleep(interval).await;
    }
}
