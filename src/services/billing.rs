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

use crate::db::audit::{Action, Actor, Event};
use crate::db::billing::{Debit, DebitRefusal, EntryRow, NewEntry, TopUpRow, WalletRow};
use crate::db::scope::Scope;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{
    FieldErrors, LedgerKind, Money, ProjectId, TopUpId, TopUpStatus, WorkspaceId, WorkspaceStatus,
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
pub async fn charge(db: &Db, presented: &str, input: ChargeInput) -> Result<Charged, ServiceError> {
    let charge = validate_charge(input)?;
    let presented = presented.to_owned();
    db.run(move |conn| {
        let key = projects::key_in(conn, &presented)?.ok_or(ServiceError::KeyRejected)?;
        let workspace = key.workspace_id;
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
            let Some(balance_after) = db::billing::debit(conn, &debit)? else {
                return Ok(Err(db::billing::why_refused(conn, &debit)?));
            };
            db::billing::add_daily_spend(conn, &debit, &today, &key.project_id)?;
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

fn credit_top_up(conn: &mut db::AnyConnection, top_up: &TopUpRow) -> Result<(), ServiceError> {
    let amount = Money::from_micros(top_up.amount);
    let workspace = &top_up.workspace_id;
    let balance_after = db::billing::credit(conn, workspace, amount)?;
    let entry = db::billing::enter(
        conn,
        &NewEntry {
            workspace,
            kind: LedgerKind::TopUp,
            amount,
            balance_after,
            idempotency_key: &format!("top_up:{}", top_up.id.as_str()),
            request_digest: top_up.id.as_str(),
            project: None,
            model: None,
            description: &format!("Top-up, card ending {}", top_up.card_last4),
            user: None,
        },
    )?;
    db::billing::link_entry(conn, &top_up.id, &entry.id)?;
    if db::billing::reactivate(conn, workspace)? {
        let event = Event {
            action: Action::WorkspaceReactivate,
            target_id: workspace.as_str(),
            target_label: "the workspace",
            details: "funded by a top-up".to_owned(),
        };
        db::audit::record_by_system(conn, workspace, &event)?;
    }
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
