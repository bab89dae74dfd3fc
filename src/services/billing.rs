//! Wallets: the charge the platform makes with a project's key, top-ups
//! through the payment provider, and the spend controls a wallet's
//! managers set.
//!
//! Every change of a balance is one transaction with its ledger entry and
//! an idempotency key, so a repeated request changes nothing and answers
//! what the first did. A charge is one conditional update (balance,
//! monthly limit, allowed model, workspace active) and its entry; a
//! top-up is credited only by the provider's signed notification, once.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::config::PlanSpec;
use crate::db::audit::{Action, Actor, Event};
use crate::db::billing::{Debit, DebitRefusal, EntryRow, NewEntry, TopUpRow, WalletRow};
use crate::db::scope::Scope;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{
    FieldErrors, LedgerKind, Money, Permission, PermissionSet, ProjectId, TopUpId, TopUpStatus,
    UserId, WorkspaceId, WorkspaceStatus,
};
use crate::services::ServiceError;
use crate::services::payments::{self, Card, PaymentProvider};
use crate::services::projects;

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

/// Why a charge was refused, as the platform hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeRefusal {
    /// The balance doesn't cover it (402).
    InsufficientFunds {
        /// What the wallet holds.
        balance: Money,
        /// What was asked.
        amount: Money,
    },
    /// The workspace is suspended until it is funded, or archived (402).
    Inactive(WorkspaceStatus),
    /// The model isn't on the workspace's allow-list (403).
    ModelNotAllowed(String),
    /// The charge would pass the monthly spend limit (403).
    SpendLimitReached {
        /// The limit.
        limit: Money,
        /// Charged so far this month.
        spent: Money,
    },
    /// The idempotency key was used before with other parameters (409).
    KeyReused,
}

impl ChargeRefusal {
    /// The stable code of the JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            ChargeRefusal::InsufficientFunds { .. } => "insufficient_funds",
            ChargeRefusal::Inactive(_) => "workspace_suspended",
            ChargeRefusal::ModelNotAllowed(_) => "model_not_allowed",
            ChargeRefusal::SpendLimitReached { .. } => "spend_limit_reached",
            ChargeRefusal::KeyReused => "idempotency_key_reused",
        }
    }

    /// What the caller is told.
    pub fn message(&self) -> String {
        match self {
            ChargeRefusal::InsufficientFunds { balance, amount } => format!(
                "The wallet holds {balance} credits, less than the {amount} charged. \
                 Someone with billing access can top it up."
            ),
            ChargeRefusal::Inactive(WorkspaceStatus::Archived) => {
                "The workspace is archived and can't be charged.".to_owned()
            }
            ChargeRefusal::Inactive(_) => {
                "The workspace is suspended until its wallet is topped up.".to_owned()
            }
            ChargeRefusal::ModelNotAllowed(model) => {
                format!("The model “{model}” isn't on this workspace's list of allowed models.")
            }
            ChargeRefusal::SpendLimitReached { limit, spent } => format!(
                "This charge would pass the monthly spend limit of {limit} credits \
                 ({spent} spent this month). Someone with billing access can raise it."
            ),
            ChargeRefusal::KeyReused => "This Idempotency-Key was used for a different charge. \
                 Send a new key for a new charge."
                .to_owned(),
        }
    }
}

/// A charge as the platform asks for it.
#[derive(Debug, Clone)]
pub struct ChargeInput {
    /// The model used.
    pub model: String,
    /// Micro-credits to charge.
    pub amount: i64,
    /// What for (may be empty).
    pub description: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
}

/// A charge entered, or the first answer to a repeated one.
#[derive(Debug, Clone)]
pub struct Charged {
    /// The ledger entry.
    pub entry: EntryRow,
    /// The wallet's workspace.
    pub workspace_id: WorkspaceId,
    /// Whether this repeated an earlier request (nothing was charged now).
    pub replayed: bool,
}

/// A checked charge.
struct ValidCharge {
    model: String,
    amount: Money,
    description: String,
    idempotency_key: String,
}

fn validate_charge(input: ChargeInput) -> Result<ValidCharge, ServiceError> {
    let mut errors = FieldErrors::new();
    let model = input.model.trim().to_owned();
    let model_ok = model
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._:/@-".contains(&b));
    if model.is_empty() || model.chars().count() > MAX_MODEL_CHARS || !model_ok {
        errors.add(
            "model",
            "Name the model: 1 to 100 letters, digits and . _ : / @ -.",
        );
    }
    if input.amount <= 0 || Money::from_micros(input.amount) > MAX_CHARGE {
        errors.add(
            "amount",
            format!(
                "Charge a whole number of micro-credits from 1 to {}.",
                MAX_CHARGE.micros()
            ),
        );
    }
    if input.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.add("description", "Use at most 500 characters.");
    }
    let key = input.idempotency_key.trim();
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        errors.add(
            "Idempotency-Key",
            "Send an Idempotency-Key header: 1 to 255 visible ASCII characters, new for each charge.",
        );
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok(ValidCharge {
        model,
        amount: Money::from_micros(input.amount),
        description: input.description,
        idempotency_key: format!("charge:{key}"),
    })
}

/// What a charge's parameters hash to: a repeat matches, a reuse of the
/// key with other parameters doesn't.
fn digest(project: &ProjectId, charge: &ValidCharge) -> String {
    let mut hash = Sha256::new();
    for part in [
        project.as_str(),
        &charge.model,
        &charge.amount.micros().to_string(),
        &charge.description,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

/// The current calendar month, `YYYY-MM` (UTC): what spend limits count.
pub fn current_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// Charges the wallet of the project the presented key opens: one
/// checkout, one transaction. A repeat of an earlier charge (same key,
/// same parameters) answers what it did and charges nothing.
pub async fn charge(
    db: &Db,
    presented: &str,
    input: ChargeInput,
    alerts: &AlertSettings,
) -> Result<Charged, ServiceError> {
    let charge = validate_charge(input)?;
    let presented = presented.to_owned();
    let alerts = alerts.clone();
    db.run(move |conn| {
        let key = projects::key_in(conn, &presented)?.ok_or(ServiceError::KeyRejected)?;
        let workspace = key.workspace_id.clone();
        let digest = digest(&key.project_id, &charge);
        let (month, today) = (
            current_month(),
            chrono::Utc::now().format("%Y-%m-%d").to_string(),
        );
        let debit = Debit {
            workspace: &workspace,
            amount: charge.amount,
            model: &charge.model,
            month: &month,
        };
        let outcome = write_transaction(conn, |conn| {
            let Some(debited) = db::billing::debit(conn, &debit)? else {
                return Ok(Err(db::billing::why_refused(conn, &debit)?));
            };
            let balance_after = debited.balance_after;
            db::billing::add_daily_spend(conn, &debit, &today, &key.project_id)?;
            alert_on_thresholds(conn, &key, &debit, &debited, &alerts)?;
            let entry = db::billing::enter(
                conn,
                &NewEntry {
                    workspace: &workspace,
                    kind: LedgerKind::Charge,
                    amount: -charge.amount,
                    balance_after,
                    idempotency_key: &charge.idempotency_key,
                    request_digest: &digest,
                    project: Some(&key.project_id),
                    model: Some(&charge.model),
                    description: &charge.description,
                    user: None,
                },
            )?;
            Ok::<_, ServiceError>(Ok(entry))
        });
        let refusal = match outcome {
            Ok(Ok(entry)) => {
                return Ok(Charged {
                    entry,
                    workspace_id: workspace,
                    replayed: false,
                });
            }
            Ok(Err(refusal)) => Some(refusal),
            Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => None,
            Err(e) => return Err(e),
        };
        match db::billing::entry_by_key(conn, &workspace, &charge.idempotency_key)? {
            Some(entry) if entry.request_digest == digest => Ok(Charged {
                entry,
                workspace_id: workspace,
                replayed: true,
            }),
            Some(_) => Err(ServiceError::ChargeRefused(ChargeRefusal::KeyReused)),
            None => Err(ServiceError::ChargeRefused(refusal_of(
                refusal.ok_or(ServiceError::Internal("a conflict without an entry".into()))?,
                &charge,
            ))),
        }
    })
    .await
}

/// Who is told, and how, when a month's spend passes a share of its limit.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Percentages of the monthly spend limit that trigger an alert.
    pub thresholds: Vec<u32>,
    /// The public base URL, for the link in the email.
    pub base_url: String,
}

/// Emails the members who may read the wallet's billing when this charge
/// took the month's spend past a threshold of its limit, once per
/// threshold and month (inside the charge's transaction, after the debit
/// locked the wallet).
fn alert_on_thresholds(
    conn: &mut db::AnyConnection,
    key: &db::projects::KeyLookup,
    debit: &Debit<'_>,
    debited: &db::billing::Debited,
    alerts: &AlertSettings,
) -> Result<(), ServiceError> {
    let Some(limit) = debited.monthly_spend_limit else {
        return Ok(());
    };
    let after = i128::from(debited.month_spent) * 100;
    let before = after - i128::from(debit.amount.micros()) * 100;
    let crossed = alerts.thresholds.iter().copied().filter(|&t| {
        let line = i128::from(limit) * i128::from(t);
        before < line && line <= after
    });
    for threshold in crossed {
        let threshold = i32::try_from(threshold).unwrap_or(i32::MAX);
        if db::billing::record_alert(conn, debit.workspace, debit.month, threshold)? {
            send_alert(conn, key, debited, threshold, alerts)?;
        }
    }
    Ok(())
}

fn send_alert(
    conn: &mut db::AnyConnection,
    key: &db::projects::KeyLookup,
    debited: &db::billing::Debited,
    threshold: i32,
    alerts: &AlertSettings,
) -> Result<(), ServiceError> {
    let (spent, limit) = (
        Money::from_micros(debited.month_spent),
        Money::from_micros(debited.monthly_spend_limit.unwrap_or_default()),
    );
    let workspace = &key.workspace_name;
    let link = match (&key.workspace_kind, &key.workspace_slug) {
        (crate::domain::WorkspaceKind::Personal, _) => format!("{}/billing", alerts.base_url),
        (_, Some(slug)) => format!("{}/o/{slug}/settings/billing", alerts.base_url),
        (_, None) => format!("{}/settings/billing", alerts.base_url),
    };
    let subject = format!("{workspace} has spent {threshold}% of its monthly limit");
    let intro = format!(
        "{workspace} has spent {spent} of its {limit} credits for this month ({threshold}%). \
         At the limit, further charges are refused until next month or until the limit is raised."
    );
    let outro = format!(
        "You get this because your role in {workspace} can see its billing. \
         Each threshold is announced once a month."
    );
    let readers = db::billing::members_with_roles(conn, &key.workspace_id)?;
    for (email, name, system, stored) in readers {
        if !PermissionSet::of_role(system, &stored).contains(Permission::BillingRead) {
            continue;
        }
        let mail = crate::services::accounts::tokens::AccountMail {
            to: &email,
            subject: &subject,
            name: &name,
            intro: &intro,
            action: "See the billing page",
            link: Some(&link),
            outro: &outro,
        };
        crate::services::accounts::tokens::queue(conn, &mail)?;
    }
    Ok(())
}

fn refusal_of(refusal: DebitRefusal, charge: &ValidCharge) -> ChargeRefusal {
    match refusal {
        DebitRefusal::Inactive(status) => ChargeRefusal::Inactive(status),
        DebitRefusal::ModelNotAllowed => ChargeRefusal::ModelNotAllowed(charge.model.clone()),
        DebitRefusal::SpendLimit { limit, spent } => {
            ChargeRefusal::SpendLimitReached { limit, spent }
        }
        DebitRefusal::InsufficientFunds { balance } => ChargeRefusal::InsufficientFunds {
            balance,
            amount: charge.amount,
        },
    }
}

/// The wallet of the workspace the presented key opens.
pub async fn wallet_of_key(
    db: &Db,
    presented: &str,
) -> Result<(WorkspaceId, String, WalletRow), ServiceError> {
    let presented = presented.to_owned();
    db.run(move |conn| {
        let key = projects::key_in(conn, &presented)?.ok_or(ServiceError::KeyRejected)?;
        let wallet = db::billing::wallet_of(conn, &key.workspace_id)?;
        Ok((key.workspace_id, key.workspace_name, wallet))
    })
    .await
}

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

/// A credit to a wallet: the money, its ledger entry's key and words.
struct Credit<'a> {
    workspace: &'a WorkspaceId,
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
    let entry = db::billing::enter(
        conn,
        &NewEntry {
            workspace: credit.workspace,
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
    if db::billing::reactivate(conn, credit.workspace)? {
        let event = Event {
            action: Action::WorkspaceReactivate,
            target_id: credit.workspace.as_str(),
            target_label: "the workspace",
            details: format!("its wallet was funded ({})", credit.description),
        };
        db::audit::record_by_system(conn, credit.workspace, &event)?;
    }
    Ok(entry)
}

fn credit_top_up(conn: &mut db::AnyConnection, top_up: &TopUpRow) -> Result<(), ServiceError> {
    let amount = Money::from_micros(top_up.amount);
    let workspace = &top_up.workspace_id;
    let entry = credit(
        conn,
        &Credit {
            workspace,
            kind: LedgerKind::TopUp,
            amount,
            idempotency_key: &format!("top_up:{}", top_up.id.as_str()),
            description: &format!("Top-up, card ending {}", top_up.card_last4),
            user: None,
        },
    )?;
    db::billing::link_entry(conn, &top_up.id, &entry.id)?;
    let event = Event {
        action: Action::WalletTopUp,
        target_id: top_up.id.as_str(),
        target_label: &format!("{amount} credits"),
        details: format!("card ending {}", top_up.card_last4),
    };
    db::audit::record_by_system(conn, workspace, &event)?;
    Ok(())
}

/// Refuses to start agents and apps in a suspended workspace, read inside
/// the starting transaction.
pub fn refuse_if_suspended(
    conn: &mut db::AnyConnection,
    workspace: &WorkspaceId,
) -> Result<(), ServiceError> {
    if db::billing::status_of(conn, workspace)?.is_suspended() {
        return Err(ServiceError::Refused(
            "This workspace is suspended until its wallet is topped up: agents and apps won't start.",
        ));
    }
    Ok(())
}

/// A coupon code as typed, normalised: letters, digits and hyphens, in
/// capitals.
pub fn coupon_code(typed: &str) -> Result<String, &'static str> {
    let code = typed.trim().to_uppercase();
    let well_formed = (3..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if well_formed {
        Ok(code)
    } else {
        Err("Enter the coupon's code: 3 to 40 letters, digits and hyphens.")
    }
}

/// A coupon as an operator asks for it on the command line.
pub struct NewCoupon<'a> {
    /// The code, as typed.
    pub code: &'a str,
    /// Credits, as typed.
    pub credits: &'a str,
    /// Last day it may be redeemed (`YYYY-MM-DD`, through the end of that
    /// day UTC).
    pub expires: Option<&'a str>,
    /// How many workspaces may redeem it.
    pub max_redemptions: Option<i32>,
}

/// Creates a coupon (the CLI's `tenantry coupon create`); returns its code.
pub fn create_coupon(
    conn: &mut db::AnyConnection,
    coupon: &NewCoupon<'_>,
) -> Result<String, ServiceError> {
    let mut errors = FieldErrors::new();
    let code = errors.check("code", coupon_code(coupon.code));
    let amount = errors.check("credits", Money::parse_credits(coupon.credits, MAX_TOP_UP));
    let expires_at = match coupon.expires {
        None => None,
        Some(day) => errors
            .check(
                "expires",
                chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| "Give the last day as YYYY-MM-DD."),
            )
            .and_then(|day| day.succ_opt())
            .map(|day| day.and_time(chrono::NaiveTime::MIN)),
    };
    if coupon.max_redemptions.is_some_and(|n| n < 1) {
        errors.add("max-redemptions", "Allow at least one redemption.");
    }
    let (Some(code), Some(amount)) = (code, amount) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    db::billing::create_coupon(conn, &code, amount, expires_at, coupon.max_redemptions).map_err(
        |e| match e {
            db::DbError::Conflict(_) => ServiceError::invalid("code", "A coupon has this code."),
            other => other.into(),
        },
    )?;
    Ok(code)
}

/// Redeems a coupon into the scoped wallet: at most once per workspace,
/// within its expiry and its number of redemptions, in one transaction
/// with its ledger entry and audit entry. Returns what it added.
pub async fn redeem_coupon(db: &Db, scope: &Scope, typed: &str) -> Result<Money, ServiceError> {
    let code = coupon_code(typed).map_err(|m| ServiceError::invalid("code", m))?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let Some(amount) = db::billing::claim_coupon(conn, &code)? else {
                    return Err(why_not_redeemable(conn, &code)?);
                };
                let description = format!("Coupon {code}");
                credit(
                    conn,
                    &Credit {
                        workspace: scope.workspace_id(),
                        kind: LedgerKind::Coupon,
                        amount,
                        idempotency_key: &format!("coupon:{code}"),
                        description: &description,
                        user: Some(scope.user_id()),
                    },
                )?;
                let event = Event {
                    action: Action::WalletCoupon,
                    target_id: &code,
                    target_label: &description,
                    details: format!("{amount} credits"),
                };
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(amount)
            })
        })
        .await;
    match outcome {
        Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => Err(ServiceError::invalid(
            "code",
            "This workspace has already redeemed this coupon.",
        )),
        other => other,
    }
}

fn why_not_redeemable(
    conn: &mut db::AnyConnection,
    code: &str,
) -> Result<ServiceError, ServiceError> {
    let message = match db::billing::coupon(conn, code)? {
        None => "No coupon has this code: check it for typos.".to_owned(),
        Some(coupon) => match coupon.expires_at {
            Some(at) if at <= db::now() => {
                format!(
                    "This coupon expired on {}.",
                    crate::domain::time::format_time(&at)
                )
            }
            _ => "This coupon has been redeemed as often as it may be.".to_owned(),
        },
    };
    let mut errors = FieldErrors::new();
    errors.add("code", message);
    Ok(ServiceError::Invalid(errors))
}

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
    let team = team_to_fund(scope, &input.team_id)?;
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
                    &team,
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

/// The team `typed` names, if it is a team of the scoped organization
/// whose billing the user may manage.
fn team_to_fund(
    scope: &Scope,
    typed: &str,
) -> Result<crate::db::workspaces::WorkspaceAccess, ServiceError> {
    scope.require(Permission::BillingManage)?;
    if scope.workspace().kind != crate::domain::WorkspaceKind::Organization {
        return Err(ServiceError::Refused(
            "Funds move only from an organization's wallet to its teams' wallets, \
             never out of a personal or a team's wallet.",
        ));
    }
    let team = WorkspaceId::parse(typed)
        .and_then(|id| scope.accessible(&id).cloned())
        .filter(|team| team.parent_id.as_ref() == Some(scope.workspace_id()))
        .ok_or_else(|| {
            ServiceError::invalid("team_id", "Choose one of this organization's teams.")
        })?;
    if !crate::db::scope::role_permissions(&team).contains(Permission::BillingManage) {
        return Err(ServiceError::invalid(
            "team_id",
            "Your role in this team doesn't allow managing its billing.",
        ));
    }
    Ok(team)
}

fn move_funds(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
    team: &crate::db::workspaces::WorkspaceAccess,
    amount: Money,
    key: &str,
) -> Result<(), ServiceError> {
    let organization = scope.workspace_id();
    let Some(balance_after) = db::billing::withdraw(conn, organization, amount)? else {
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
            workspace: &team.workspace_id,
            kind: LedgerKind::TransferIn,
            amount,
            idempotency_key: key,
            description: &into,
            user: Some(scope.user_id()),
        },
    )?;
    for (workspace, words) in [(organization, &out), (&team.workspace_id, &into)] {
        let event = Event {
            action: Action::WalletTransfer,
            target_id: team.workspace_id.as_str(),
            target_label: words,
            details: format!("{amount} credits"),
        };
        db::audit::record(conn, workspace, actor, &event)?;
    }
    Ok(())
}

/// The configured plan with this key.
pub fn plan<'a>(plans: &'a [PlanSpec], key: &str) -> Option<&'a PlanSpec> {
    plans.iter().find(|plan| plan.key == key)
}

/// What `paid` in `wallets.plan_fee_paid` and the fee's idempotency key
/// say for `plan` in `month`.
fn fee_period(month: &str, plan: &PlanSpec) -> String {
    format!("{month}:{}", plan.key)
}

/// Charges `plan`'s fee for `month` to `workspace` unless it was charged
/// (by the ledger: a wallet that leaves a plan and comes back within the
/// month pays it once):
/// the withdrawal, its ledger entry and the paid mark, in the caller's
/// transaction. `false` when the balance doesn't cover it.
fn charge_fee(
    conn: &mut db::AnyConnection,
    workspace: &WorkspaceId,
    plan: &PlanSpec,
    month: &str,
) -> Result<bool, ServiceError> {
    let period = fee_period(month, plan);
    let fee = Money::credits(i64::from(plan.monthly_credits));
    let key = format!("plan_fee:{period}");
    let paid_before = db::billing::entry_by_key(conn, workspace, &key)?.is_some();
    if fee > Money::ZERO && !paid_before {
        let Some(balance_after) = db::billing::withdraw(conn, workspace, fee)? else {
            return Ok(false);
        };
        db::billing::enter(
            conn,
            &NewEntry {
                workspace,
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
    db::billing::mark_fee_paid(conn, workspace, &period)?;
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
                if !charge_fee(conn, scope.workspace_id(), &chosen, &current_month())? {
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
                let event = Event {
                    action: Action::WalletPlan,
                    target_id: &chosen.key,
                    target_label: &chosen.name,
                    details: format!("{} credits a month", chosen.monthly_credits),
                };
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
                        suspend_unpaid(conn, &workspace, &plan)?;
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
        let event = Event {
            action: Action::WorkspaceSuspend,
            target_id: workspace.as_str(),
            target_label: "the workspace",
            details: format!(
                "its wallet couldn't pay the {} plan's {} credits for the month",
                plan.name, plan.monthly_credits
            ),
        };
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

/// A top-up of the scoped wallet, for its receipt.
pub async fn receipt(db: &Db, scope: &Scope, id: TopUpId) -> Result<TopUpRow, ServiceError> {
    let scope = scope.clone();
    Ok(db
        .run(move |conn| db::billing::top_up(conn, &scope, &id))
        .await?)
}

/// The spend-controls form as typed.
#[derive(Debug, Clone, Default)]
pub struct ControlsInput {
    /// Monthly spend limit in credits (empty: none).
    pub monthly_limit: String,
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
    let limit = if input.monthly_limit.trim().is_empty() {
        None
    } else {
        errors.check(
            "monthly_limit",
            Money::parse_credits(&input.monthly_limit, MAX_MONTHLY_LIMIT),
        )
    };
    let models = parse_models(&input.allowed_models, &mut errors);
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            db::billing::set_controls(conn, &scope, limit, models.as_deref())?;
            let event = Event {
                action: Action::WalletControls,
                target_id: scope.workspace_id().as_str(),
                target_label: &scope.workspace().name,
                details: format!(
                    "monthly limit {}; models {}",
                    limit.map_or("none".to_owned(), |l| format!("{l} credits")),
                    models.as_ref().map_or("all".to_owned(), |m| m.join(", "))
                ),
            };
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

/// What the billing page shows.
pub struct Overview {
    /// The wallet.
    pub wallet: WalletRow,
    /// Its allowed models (empty: every model).
    pub models: Vec<String>,
    /// A page of entries, one more than shown (so a next page costs no count).
    pub entries: Vec<EntryRow>,
    /// Spend per day, project and model since the chart's first day.
    pub daily_spend: Vec<db::billing::DailySpendRow>,
    /// The names of the workspace's projects (a project since deleted or
    /// moved away has none).
    pub project_names: HashMap<ProjectId, String>,
}

/// Reads what the billing page shows: the wallet, its controls, a page of
/// the ledger and the daily spend from `first_day` on.
pub async fn overview(
    db: &Db,
    scope: &Scope,
    after: Option<db::billing::EntryCursor>,
    page_size: i64,
    first_day: String,
) -> Result<Overview, ServiceError> {
    let scope = scope.clone();
    Ok(db
        .run(move |conn| {
            let wallet = db::billing::wallet(conn, &scope)?;
            let models = if wallet.models_restricted {
                db::billing::allowed_models(conn, &scope)?
            } else {
                Vec::new()
            };
            let entries = db::billing::entries(conn, &scope, after.as_ref(), page_size + 1)?;
            let daily_spend = db::billing::daily_spend_since(conn, &scope, &first_day)?;
            let charged = entries.iter().any(|e| e.project_id.is_some());
            let project_names = if daily_spend.is_empty() && !charged {
                HashMap::new()
            } else {
                db::projects::all(conn, &scope)?
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect()
            };
            Ok::<_, db::DbError>(Overview {
                wallet,
                models,
                entries,
                daily_spend,
                project_names,
            })
        })
        .await?)
}
