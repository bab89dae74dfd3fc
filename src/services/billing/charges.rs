//! The charge the platform makes with a project's key: one conditional
//! update of the wallet (balance, monthly limit, allowed model, workspace
//! active) and its ledger entry, idempotent by key; budget alerts when the
//! month passes a threshold of its limit.

use super::{MAX_CHARGE, MAX_DESCRIPTION_CHARS, MAX_KEY_CHARS, MAX_MODEL_CHARS, current_month};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::db::billing::{DebitRefusal, EntryRow, NewCharge, WalletRow};
use crate::db::scope::Tenant;
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::{
    Email, FieldErrors, Money, Permission, PermissionSet, ProjectId, UserId, WorkspaceId,
    WorkspaceStatus,
};
use crate::services::ServiceError;
use crate::services::projects::{self, ProjectKeys};
use crate::services::secret_keys;

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
    /// The charge would pass the member's monthly spend limit (403).
    MemberLimitReached {
        /// The limit per member.
        limit: Money,
        /// What the member's charges came to this month.
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
            ChargeRefusal::MemberLimitReached { .. } => "member_spend_limit_reached",
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
            ChargeRefusal::MemberLimitReached { limit, spent } => format!(
                "This charge would pass the member's monthly spend limit of {limit} credits \
                 ({spent} charged for them this month). Someone with billing access can raise it."
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
    /// The email of the member the charge is for (their monthly limit
    /// applies), if any.
    pub member: Option<String>,
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
    member: Option<Email>,
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
    if let Err(problem) = crate::domain::free_text(&input.description, MAX_DESCRIPTION_CHARS) {
        errors.add("description", problem.to_string());
    }
    let key = input.idempotency_key.trim();
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        errors.add(
            "Idempotency-Key",
            "Send an Idempotency-Key header: 1 to 255 visible ASCII characters, new for each charge.",
        );
    }
    let member = match input.member.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(typed) => errors.check("member", Email::parse(typed)),
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok(ValidCharge {
        model,
        amount: Money::from_micros(input.amount),
        description: input.description,
        idempotency_key: format!("charge:{key}"),
        member,
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
        charge.member.as_ref().map_or("", Email::as_str),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

/// Charges the wallet of the project the presented key opens. A repeat of
/// an earlier charge (same key, same parameters) answers what it did and
/// charges nothing. With the key remembered and no member named, the
/// charge is one trip to the database: on SQLite in a transaction shared
/// with the other charges waiting, on PostgreSQL one statement
/// ([`Db::enter_charge`]).
pub async fn charge(
    db: &Db,
    keys: &ProjectKeys,
    presented: &str,
    input: ChargeInput,
    alerts: &AlertSettings,
) -> Result<Charged, ServiceError> {
    let charge = validate_charge(input)?;
    let key_digest = secret_keys::hash(presented);
    let key = match keys.get(&key_digest) {
        Some(key) => key,
        None => Arc::new(key_of(db, presented).await?),
    };
    let member = match charge.member.clone() {
        Some(email) => {
            let workspace = key.workspace.clone();
            Some(
                db.run(move |conn| member_charged(conn, &workspace, &email))
                    .await?,
            )
        }
        None => None,
    };
    let entry = new_charge(&key, &charge, member);
    let (amount, month, digest) = (
        entry.amount,
        entry.month.clone(),
        entry.request_digest.clone(),
    );
    let refusal = match db.enter_charge(entry).await {
        Ok(Ok((wallet, entry))) => {
            let crossed = crossed_thresholds(&wallet, amount, &alerts.thresholds);
            if !crossed.is_empty() {
                let (key, alerts) = (key.clone(), alerts.clone());
                db.run(move |conn| send_alerts(conn, &key, &month, &wallet, &crossed, &alerts))
                    .await?;
            }
            keys.put(key_digest, key.clone());
            return Ok(Charged {
                entry,
                workspace_id: key.workspace.workspace_id().clone(),
                replayed: false,
            });
        }
        Ok(Err(refusal)) => Some(refusal_of(refusal, &charge)),
        Err(DbError::Conflict(UniqueKey::LedgerIdempotencyKey)) => None,
        Err(e) => return Err(e.into()),
    };
    earlier_answer(
        db,
        &key.workspace,
        &charge.idempotency_key,
        &digest,
        refusal,
    )
    .await
}

/// The project key `presented` is, when it is live.
async fn key_of(db: &Db, presented: &str) -> Result<db::projects::KeyLookup, ServiceError> {
    let presented = presented.to_owned();
    db.run(move |conn| projects::key_in(conn, &presented)?.ok_or(ServiceError::KeyRejected))
        .await
}

/// The answer to a charge that entered nothing: the first answer again
/// when its idempotency key was used by the same charge before, a 409 when
/// by another, and otherwise its `refusal`.
async fn earlier_answer(
    db: &Db,
    workspace: &Tenant,
    idempotency_key: &str,
    digest: &str,
    refusal: Option<ChargeRefusal>,
) -> Result<Charged, ServiceError> {
    let (looked_up, idempotency_key) = (workspace.clone(), idempotency_key.to_owned());
    let earlier = db
        .run(move |conn| db::billing::entry_by_key(conn, &looked_up, &idempotency_key))
        .await?;
    match earlier {
        Some(entry) if entry.request_digest == digest => Ok(Charged {
            entry,
            workspace_id: workspace.workspace_id().clone(),
            replayed: true,
        }),
        Some(_) => Err(ServiceError::ChargeRefused(ChargeRefusal::KeyReused)),
        None => Err(ServiceError::ChargeRefused(refusal.ok_or(
            ServiceError::Internal("a conflict without an entry".into()),
        )?)),
    }
}

/// The charge of the project `key` opens, as the database enters it.
fn new_charge(
    key: &db::projects::KeyLookup,
    charge: &ValidCharge,
    member: Option<UserId>,
) -> NewCharge {
    NewCharge {
        workspace: key.workspace.workspace_id().clone(),
        amount: charge.amount,
        model: charge.model.clone(),
        month: current_month(),
        day: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        project: key.project_id.clone(),
        idempotency_key: charge.idempotency_key.clone(),
        request_digest: digest(&key.project_id, charge),
        description: charge.description.clone(),
        member,
    }
}

/// The active member of `workspace` with this email, whom a charge names.
fn member_charged(
    conn: &mut db::AnyConnection,
    workspace: &Tenant,
    email: &Email,
) -> Result<UserId, ServiceError> {
    db::billing::active_member(conn, workspace, email.as_str())?.ok_or_else(|| {
        ServiceError::invalid(
            "member",
            "No active member of this workspace has this email.",
        )
    })
}

/// Who is told, and how, when a month's spend passes a share of its limit.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Percentages of the monthly spend limit that trigger an alert.
    pub thresholds: Vec<u32>,
    /// The public base URL, for the link in the email.
    pub base_url: String,
}

/// The thresholds (percentages of the monthly spend limit) that a charge
/// of `amount` took the month's spend past, leaving it at `debited`.
fn crossed_thresholds(
    debited: &db::billing::Debited,
    amount: Money,
    thresholds: &[u32],
) -> Vec<u32> {
    let Some(limit) = debited.monthly_spend_limit else {
        return Vec::new();
    };
    let after = i128::from(debited.month_spent) * 100;
    let before = after - i128::from(amount.micros()) * 100;
    thresholds
        .iter()
        .copied()
        .filter(|&t| {
            let line = i128::from(limit) * i128::from(t);
            before < line && line <= after
        })
        .collect()
}

/// Emails the members who may read the wallet's billing that the month's
/// spend passed `crossed` thresholds of its limit, once per threshold and
/// month: each alert's row and its emails commit together, just after the
/// charge (so a crash between the two loses that alert rather than
/// slowing every charge with the emails' work).
fn send_alerts(
    conn: &mut db::AnyConnection,
    key: &db::projects::KeyLookup,
    month: &str,
    debited: &db::billing::Debited,
    crossed: &[u32],
    alerts: &AlertSettings,
) -> Result<(), ServiceError> {
    for &threshold in crossed {
        let threshold = i32::try_from(threshold).unwrap_or(i32::MAX);
        write_transaction(conn, |conn| {
            if db::billing::record_alert(conn, &key.workspace, month, threshold)? {
                send_alert(conn, key, debited, threshold, alerts)?;
            }
            Ok::<_, ServiceError>(())
        })?;
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
    let readers = db::billing::members_with_roles(conn, &key.workspace)?;
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
        DebitRefusal::MemberLimit { limit, spent } => {
            ChargeRefusal::MemberLimitReached { limit, spent }
        }
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
        let wallet = db::billing::wallet_of(conn, &key.workspace)?;
        Ok((
            key.workspace.into_workspace_id(),
            key.workspace_name,
            wallet,
        ))
    })
    .await
}
