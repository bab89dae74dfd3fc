//! Funds an organization moves to its teams' wallets (and nowhere else).

use super::{Credit, MAX_TOP_UP, credit};
use crate::db::audit::{Actor, Event};
use crate::db::billing::NewEntry;
use crate::db::scope::{Scope, Tenant};
use crate::db::workspaces::WorkspaceAccess;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{FieldErrors, LedgerKind, Money, Permission, WorkspaceId};
use crate::services::ServiceError;

/// A move of funds from an organization's wallet to one of its teams'.
#[derive(Debug, Clone, Default)]
pub struct TransferInput {
    /// The team, as the form's menu names it.
    pub team_id: String,
    /// Credits, as typed.
    pub amount: String,
    /// A key the form was rendered with: submitting it twice moves once.
    pub transfer_key: String,
}

/// Moves funds from the scoped organization's wallet to a team's, in one
/// transaction with both ledger entries and both audit entries. Needs
/// `billing.manage` in both; money never moves out of a personal wallet
/// or into another organization. Returns the team's name and the amount.
pub async fn transfer_to_team(
    db: &Db,
    scope: &Scope,
    input: &TransferInput,
) -> Result<(String, Money), ServiceError> {
    let (team, tenant) = team_to_fund(scope, &input.team_id)?;
    let mut errors = FieldErrors::new();
    let amount = errors.check(
        "transfer_amount",
        Money::parse_credits(&input.amount, MAX_TOP_UP),
    );
    let key = uuid::Uuid::parse_str(input.transfer_key.trim()).ok();
    let (Some(amount), Some(key)) = (amount, key) else {
        if errors.is_empty() {
            errors.add(
                "transfer_amount",
                "This form is stale: reload the page and try again.",
            );
        }
        return Err(ServiceError::Invalid(errors));
    };
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let name = team.name.clone();
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                move_funds(
                    conn,
                    &scope,
                    &actor,
                    (&team, &tenant),
                    amount,
                    &format!("transfer:{key}"),
                )
            })
        })
        .await;
    match outcome {
        Ok(()) => Ok((name, amount)),
        // The same form submitted twice: the first moved the funds.
        Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => Ok((name, amount)),
        Err(e) => Err(e),
    }
}

/// The team `typed` names, and the [`Tenant`] its wallet is credited
/// through, if it is a team of the scoped organization whose billing the
/// user may manage.
fn team_to_fund(scope: &Scope, typed: &str) -> Result<(WorkspaceAccess, Tenant), ServiceError> {
    scope.require(Permission::BillingManage)?;
    if scope.workspace().kind != crate::domain::WorkspaceKind::Organization {
        return Err(ServiceError::Refused(
            "Funds move only from an organization's wallet to its teams' wallets, \
             never out of a personal or a team's wallet.",
        ));
    }
    let (team, tenant) = WorkspaceId::parse(typed)
        .and_then(|id| {
            Some((
                scope.accessible(&id).cloned()?,
                scope.accessible_tenant(&id)?,
            ))
        })
        .filter(|(team, _)| team.parent_id.as_ref() == Some(scope.workspace_id()))
        .ok_or_else(|| {
            ServiceError::invalid("team_id", "Choose one of this organization's teams.")
        })?;
    if !crate::db::scope::role_permissions(&team).contains(Permission::BillingManage) {
        return Err(ServiceError::invalid(
            "team_id",
            "Your role in this team doesn't allow managing its billing.",
        ));
    }
    Ok((team, tenant))
}

fn move_funds(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
    (team, team_tenant): (&WorkspaceAccess, &Tenant),
    amount: Money,
    key: &str,
) -> Result<(), ServiceError> {
    let organization_tenant = scope.tenant();
    let organization = scope.workspace_id();
    db::billing::lock_wallets(conn, &[&organization_tenant, team_tenant])?;
    let Some(balance_after) = db::billing::withdraw(conn, &organization_tenant, amount)? else {
        let held = Money::from_micros(db::billing::wallet(conn, scope)?.balance);
        return Err(ServiceError::invalid(
            "transfer_amount",
            &format!("The organization's wallet holds {held} credits."),
        ));
    };
    let out = format!("To team {}", team.name);
    db::billing::enter(
        conn,
        &NewEntry {
            workspace: organization,
            kind: LedgerKind::TransferOut,
            amount: -amount,
            balance_after,
            idempotency_key: key,
            request_digest: key,
            project: None,
            model: None,
            description: &out,
            user: Some(scope.user_id()),
        },
    )?;
    let into = format!("From the organization {}", scope.workspace().name);
    credit(
        conn,
        &Credit {
            workspace: team_tenant,
            kind: LedgerKind::TransferIn,
            amount,
            idempotency_key: key,
            description: &into,
            user: Some(scope.user_id()),
        },
    )?;
    for (workspace, words) in [(organization, &out), (&team.workspace_id, &into)] {
        let event = Event::wallet_transfer(&team.workspace_id, words)
            .with_details(format!("{amount} credits"));
        db::audit::record(conn, workspace, actor, &event)?;
    }
    Ok(())
}
