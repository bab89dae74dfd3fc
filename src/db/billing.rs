//! Wallets, their append-only ledger, allowed models and top-ups.
//!
//! Pages start from the scoped workspace's rows. The charge endpoint and
//! the payment provider's notification act for the workspace a key or a
//! top-up names, so those functions take its id. Functions that change
//! data expect to run inside the caller's transaction: a balance moves only
//! with the ledger entry that records it.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use super::charge_statement::{ChargeStatement, ChargesStatement};
use super::expect_one;
use super::ledger_statements::{DailySpendStatement, DebitStatement, EntryStatement};
use super::schema::{
    budget_alerts, coupons, daily_spend, ledger_entries, member_spend, memberships, projects,
    roles, top_ups, users, wallet_models, wallets, workspaces,
};
use super::stamps::{MaybeStamp, Stamp};
use super::{AnyConnection, DbError, natively, now, write_transaction};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{
    LedgerEntryId, LedgerKind, MembershipStatus, Money, ProjectId, SystemRole, TopUpId,
    TopUpStatus, UserId, WorkspaceId, WorkspaceStatus,
};

/// A wallet as the billing page and the charge path read it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = wallets)]
pub struct WalletRow {
    /// Micro-credits available.
    pub balance: i64,
    /// The month (`YYYY-MM`) `month_spent` counts.
    pub spend_month: String,
    /// Micro-credits charged in `spend_month`.
    pub month_spent: i64,
    /// The most that may be charged in a month (`None`: no limit).
    pub monthly_spend_limit: Option<i64>,
    /// Whether only the listed models may be charged.
    pub models_restricted: bool,
    /// The plan's key.
    pub plan: String,
    /// The last plan fee charged, `YYYY-MM:plan`.
    pub plan_fee_paid: String,
    /// The most each member's charges may add up to in a month.
    pub member_monthly_limit: Option<i64>,
}

impl WalletRow {
    /// What was charged in `month` (nothing if the counter is of an
    /// earlier month).
    pub fn spent_in(&self, month: &str) -> Money {
        if self.spend_month == month {
            Money::from_micros(self.month_spent)
        } else {
            Money::ZERO
        }
    }
}

/// Opens the (empty) wallet of a new workspace.
pub fn open_wallet(conn: &mut AnyConnection, workspace: &WorkspaceId) -> Result<(), DbError> {
    diesel::insert_into(wallets::table)
        .values((
            wallets::workspace_id.eq(workspace),
            wallets::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The scoped workspace's wallet.
pub fn wallet(conn: &mut AnyConnection, scope: &Scope) -> Result<WalletRow, DbError> {
    Ok(scope.wallets().select(WalletRow::as_select()).first(conn)?)
}

/// The wallet of `tenant` (a key's, or a top-up's).
pub fn wallet_of(conn: &mut AnyConnection, tenant: &Tenant) -> Result<WalletRow, DbError> {
    Ok(tenant
        .wallets()
        .select(WalletRow::as_select())
        .first(conn)?)
}

/// A debit the charge endpoint asks for.
pub struct Debit<'a> {
    /// The wallet's workspace.
    pub workspace: &'a WorkspaceId,
    /// Micro-credits to take (positive).
    pub amount: Money,
    /// The model charged for.
    pub model: &'a str,
    /// The current month, `YYYY-MM`.
    pub month: &'a str,
}

/// A wallet just after a debit.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct Debited {
    /// Its balance.
    pub balance_after: i64,
    /// What this month's charges now add up to.
    pub month_spent: i64,
    /// Its monthly spend limit, if any.
    pub monthly_spend_limit: Option<i64>,
    /// Its monthly limit per member, if any.
    pub member_monthly_limit: Option<i64>,
}

/// Takes `debit.amount` from the wallet if, in this one statement, the
/// workspace is active, the balance covers it, the month's spend stays
/// within the limit and the model is allowed; concurrent debits queue on
/// the row, so none can overdraw. Returns the wallet after it, or `None`
/// when a condition failed (see [`why_refused`]).
fn debit(conn: &mut AnyConnection, debit: &Debit<'_>) -> Result<Option<Debited>, DbError> {
    let statement = DebitStatement {
        debit,
        amount: debit.amount.micros(),
        at: now(),
    };
    Ok(natively!(conn, |native| statement
        .get_result::<Debited>(native)
        .optional())?)
}

/// A charge to enter: the debit, and what the ledger and the spend
/// counters record of it. It owns its parts, so it can be handed to the
/// thread that enters it ([`super::Db::enter_charge`]).
#[derive(Debug, Clone)]
pub struct NewCharge {
    /// The wallet's workspace.
    pub workspace: WorkspaceId,
    /// Micro-credits to take (positive).
    pub amount: Money,
    /// The model charged for.
    pub model: String,
    /// The current month, `YYYY-MM`.
    pub month: String,
    /// Today, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The project whose key was charged.
    pub project: ProjectId,
    /// Unique per wallet: the charge is entered once.
    pub idempotency_key: String,
    /// Tells a repeat of the charge from a reuse of its key.
    pub request_digest: String,
    /// What for.
    pub description: String,
    /// The member it was made for (their monthly limit applies), if any.
    pub member: Option<UserId>,
}

impl NewCharge {
    /// Its debit of the wallet.
    pub fn debit(&self) -> Debit<'_> {
        Debit {
            workspace: &self.workspace,
            amount: self.amount,
            model: &self.model,
            month: &self.month,
        }
    }
}

/// What entering a charge came to: the wallet after it and its entry, or
/// why it was refused (nothing written), or the database's error (a
/// repeated idempotency key is `Conflict(LedgerIdempotencyKey)`).
pub type ChargeOutcome = Result<Result<(Debited, EntryRow), DebitRefusal>, DbError>;

/// Why a charge left everything as it was.
#[derive(Debug)]
enum ChargeAbort {
    Refused(DebitRefusal),
    Failed(DbError),
}

impl From<DbError> for ChargeAbort {
    fn from(error: DbError) -> Self {
        ChargeAbort::Failed(error)
    }
}

/// Enters a charge, all or nothing: the debit (see [`debit`]), the day's
/// spend, the member's spend within their limit, and the ledger entry.
/// A repeated idempotency key fails with
/// `Conflict(LedgerIdempotencyKey)` and enters nothing. On PostgreSQL a
/// charge for no particular member is one statement (one round trip, in
/// the charge writer's transaction: see [`super::charge_queue`]), and
/// when it fails, the transaction it was in has failed with it.
pub fn enter_charge(conn: &mut AnyConnection, charge: &NewCharge) -> ChargeOutcome {
    if let (AnyConnection::Postgresql(pg), None) = (&mut *conn, &charge.member) {
        let id = LedgerEntryId::generate();
        let at = now();
        return match charge_in_one_statement(pg, charge, &id, at)? {
            Some(wallet) => Ok(Ok((wallet, charge_entry(charge, id, wallet, at)))),
            None => Ok(Err(why_refused(conn, &charge.debit())?)),
        };
    }
    let entered = write_transaction(conn, |conn| {
        let debit = &charge.debit();
        let Some(wallet) = self::debit(conn, debit)? else {
            return Err(ChargeAbort::Refused(why_refused(conn, debit)?));
        };
        if let Some(member) = &charge.member
            && let Err(spent) = add_member_spend(conn, debit, member, wallet.member_monthly_limit)?
        {
            return Err(ChargeAbort::Refused(DebitRefusal::MemberLimit {
                limit: Money::from_micros(wallet.member_monthly_limit.unwrap_or_default()),
                spent: Money::from_micros(spent),
            }));
        }
        add_daily_spend(conn, debit, &charge.day, &charge.project)?;
        let entry = enter(
            conn,
            &NewEntry {
                workspace: debit.workspace,
                kind: LedgerKind::Charge,
                amount: -debit.amount,
                balance_after: wallet.balance_after,
                idempotency_key: &charge.idempotency_key,
                request_digest: &charge.request_digest,
                project: Some(&charge.project),
                model: Some(debit.model),
                description: &charge.description,
                user: charge.member.as_ref(),
            },
        )?;
        Ok((wallet, entry))
    });
    match entered {
        Ok(done) => Ok(Ok(done)),
        Err(ChargeAbort::Refused(refusal)) => Ok(Err(refusal)),
        Err(ChargeAbort::Failed(error)) => Err(error),
    }
}

/// [`debit`], [`add_daily_spend`] and [`enter`] as one PostgreSQL
/// statement, prepared once per connection (see [`ChargeStatement`]).
fn charge_in_one_statement(
    pg: &mut diesel::PgConnection,
    charge: &NewCharge,
    id: &LedgerEntryId,
    at: NaiveDateTime,
) -> Result<Option<Debited>, DbError> {
    Ok(ChargeStatement {
        charge,
        amount: charge.amount.micros(),
        at,
        entry_id: id,
    }
    .get_result(pg)
    .optional()?)
}

/// A row of [`ChargesStatement`]: a charge's place in it (from 1), and
/// its wallet's balance, month spent, monthly spend limit and member
/// monthly limit just after it.
type ChargesStatementRow = (i64, i64, i64, Option<i64>, Option<i64>);

/// What entering charges together came to, per charge: its wallet and
/// entry, or `None` when it is left to be entered on its own.
pub type EnteredTogether = Vec<Option<(Debited, EntryRow)>>;

/// Enters `charges` as one PostgreSQL statement (see
/// [`super::charge_statement::ChargesStatement`]), in the caller's
/// transaction. Only charges for no particular member of the first one's
/// month and day go in, and of those only the ones whose wallet covers
/// all of them; the others come back `None`, with nothing of them written,
/// to be entered one by one ([`enter_charge`]). A repeated idempotency key
/// fails the statement and, with it, the transaction. The statement
/// first locks the wallets of all of `charges`, so the ones entered one by
/// one after it take no new locks (see [`lock_wallets`]).
pub fn enter_charges_together(
    pg: &mut diesel::PgConnection,
    charges: &[&NewCharge],
) -> Result<EnteredTogether, DbError> {
    let mut outcomes: EnteredTogether = charges.iter().map(|_| None).collect();
    let Some(first) = charges.iter().find(|charge| charge.member.is_none()) else {
        return Ok(outcomes);
    };
    let (month, day) = (first.month.as_str(), first.day.as_str());
    let together: Vec<usize> = (0..charges.len())
        .filter(|&n| {
            let charge = charges[n];
            charge.member.is_none() && charge.month == month && charge.day == day
        })
        .collect();
    if together.len() < 2 {
        return Ok(outcomes);
    }
    let ids: Vec<LedgerEntryId> = together.iter().map(|_| LedgerEntryId::generate()).collect();
    let parts: Vec<(&NewCharge, &LedgerEntryId)> =
        together.iter().map(|&n| charges[n]).zip(&ids).collect();
    let mut locked: Vec<&str> = charges.iter().map(|c| c.workspace.as_str()).collect();
    locked.dedup();
    let at = now();
    let rows: Vec<ChargesStatementRow> =
        ChargesStatement::new(&parts, locked, month, day, at).load(pg)?;
    for (place, balance_after, month_spent, monthly_spend_limit, member_monthly_limit) in rows {
        let Some(in_statement) = usize::try_from(place - 1).ok().filter(|&n| n < ids.len()) else {
            continue;
        };
        let wallet = Debited {
            balance_after,
            month_spent,
            monthly_spend_limit,
            member_monthly_limit,
        };
        let n = together[in_statement];
        outcomes[n] = Some((
            wallet,
            charge_entry(charges[n], ids[in_statement].clone(), wallet, at),
        ));
    }
    Ok(outcomes)
}

/// The entry [`charge_in_one_statement`] wrote, as [`enter`] returns it.
fn charge_entry(
    charge: &NewCharge,
    id: LedgerEntryId,
    wallet: Debited,
    at: NaiveDateTime,
) -> EntryRow {
    EntryRow {
        id,
        kind: LedgerKind::Charge,
        amount: -charge.amount.micros(),
        balance_after: wallet.balance_after,
        request_digest: charge.request_digest.clone(),
        project_id: Some(charge.project.clone()),
        model: Some(charge.model.clone()),
        description: charge.description.clone(),
        created_at: at,
    }
}

/// Records that the alert for `threshold` % of `month`'s limit went out;
/// `false` when it already had. The primary key decides, so two charges
/// that both crossed the line (a month's first, racing a limit change)
/// can't both record it.
pub fn record_alert(
    conn: &mut AnyConnection,
    workspace: &Tenant,
    month: &str,
    threshold: i32,
) -> Result<bool, DbError> {
    let row = (
        budget_alerts::workspace_id.eq(workspace.workspace_id()),
        budget_alerts::month.eq(month),
        budget_alerts::threshold.eq(threshold),
        budget_alerts::sent_at.eq(now()),
    );
    let recorded = natively!(conn, |native| diesel::insert_into(budget_alerts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(native))?;
    Ok(recorded == 1)
}

/// A member who may be told about the wallet: email, name, and their
/// role's system key and stored permissions (to check `billing.read`).
pub type MemberWithRole = (String, String, Option<SystemRole>, String);

/// The active members of `tenant` with their roles.
pub fn members_with_roles(
    conn: &mut AnyConnection,
    tenant: &Tenant,
) -> Result<Vec<MemberWithRole>, DbError> {
    Ok(tenant
        .memberships()
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .inner_join(roles::table.on(roles::id.eq(memberships::role_id)))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .select((
            users::email,
            users::name,
            roles::system_key,
            roles::permissions,
        ))
        .load(conn)?)
}

/// Adds a charge to its day's total for its project and model. Runs after
/// [`debit`] in the charge's transaction (see [`DailySpendStatement`]).
fn add_daily_spend(
    conn: &mut AnyConnection,
    debit: &Debit<'_>,
    day: &str,
    project: &ProjectId,
) -> Result<(), DbError> {
    let statement = DailySpendStatement {
        debit,
        amount: debit.amount.micros(),
        day,
        project,
    };
    natively!(conn, |native| statement.execute(native))?;
    Ok(())
}

/// Adds a member's charge to their spend this month if it stays within
/// `limit` (the wallet's per-member limit); `Err(spent so far)` when it
/// wouldn't. Runs after [`debit`], whose row lock serializes the
/// workspace's charges, so the update-or-insert can't race.
fn add_member_spend(
    conn: &mut AnyConnection,
    debit: &Debit<'_>,
    member: &UserId,
    limit: Option<i64>,
) -> Result<Result<(), i64>, DbError> {
    let amount = debit.amount.micros();
    let row = member_spend::table
        .filter(member_spend::workspace_id.eq(debit.workspace))
        .filter(member_spend::user_id.eq(member))
        .filter(member_spend::month.eq(debit.month));
    let spent: Option<i64> = row.select(member_spend::spent).first(conn).optional()?;
    let before = spent.unwrap_or(0);
    if limit.is_some_and(|limit| before + amount > limit) {
        return Ok(Err(before));
    }
    if spent.is_some() {
        diesel::update(row)
            .set(member_spend::spent.eq(member_spend::spent + amount))
            .execute(conn)?;
    } else {
        diesel::insert_into(member_spend::table)
            .values((
                member_spend::workspace_id.eq(debit.workspace),
                member_spend::user_id.eq(member),
                member_spend::month.eq(debit.month),
                member_spend::spent.eq(amount),
            ))
            .execute(conn)?;
    }
    Ok(Ok(()))
}

/// The active member of `tenant` with this email, if any (a charge
/// made for them).
pub fn active_member(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    email: &str,
) -> Result<Option<UserId>, DbError> {
    Ok(tenant
        .memberships()
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(users::email.eq(email))
        .select(users::id)
        .first(conn)
        .optional()?)
}

/// One day's spend of one project on one model.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = daily_spend)]
pub struct DailySpendRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The project charged.
    pub project_id: ProjectId,
    /// The model charged for.
    pub model: String,
    /// Micro-credits charged.
    pub amount: i64,
    /// How many charges.
    pub charges: i64,
}

/// The scoped workspace's daily spend from `first_day` (`YYYY-MM-DD`) on,
/// each row with its project's name while the project is still in this
/// workspace (`None` once it was deleted or moved away).
pub fn daily_spend_since(
    conn: &mut AnyConnection,
    scope: &Scope,
    first_day: &str,
) -> Result<Vec<(DailySpendRow, Option<String>)>, DbError> {
    let same_project = projects::id
        .eq(daily_spend::project_id)
        .and(projects::workspace_id.eq(daily_spend::workspace_id));
    Ok(scope
        .daily_spend()
        .filter(daily_spend::day.ge(first_day))
        .left_join(projects::table.on(same_project))
        .select((DailySpendRow::as_select(), projects::name.nullable()))
        .load(conn)?)
}

/// Why a debit that changed nothing was refused, read after the fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebitRefusal {
    /// The workspace is suspended (or archived) and may not be charged.
    Inactive(WorkspaceStatus),
    /// The model isn't on the wallet's allow-list.
    ModelNotAllowed,
    /// The charge would pass the monthly spend limit.
    SpendLimit {
        /// The limit.
        limit: Money,
        /// Already charged this month.
        spent: Money,
    },
    /// The balance doesn't cover the charge.
    InsufficientFunds {
        /// What the wallet holds.
        balance: Money,
    },
    /// The charge would pass the member's monthly limit.
    MemberLimit {
        /// The limit per member.
        limit: Money,
        /// What the member's charges came to this month.
        spent: Money,
    },
}

/// Reads which condition of [`debit`] failed, in the order a person
/// would want to hear them.
pub fn why_refused(conn: &mut AnyConnection, debit: &Debit<'_>) -> Result<DebitRefusal, DbError> {
    let status = status_of(conn, &Tenant::of(debit.workspace.clone()))?;
    if status != WorkspaceStatus::Active {
        return Ok(DebitRefusal::Inactive(status));
    }
    let tenant = Tenant::of(debit.workspace.clone());
    let wallet = wallet_of(conn, &tenant)?;
    if wallet.models_restricted {
        let allowed: bool = diesel::select(exists(
            tenant
                .wallet_models()
                .filter(wallet_models::model.eq(debit.model)),
        ))
        .get_result(conn)?;
        if !allowed {
            return Ok(DebitRefusal::ModelNotAllowed);
        }
    }
    let spent = wallet.spent_in(debit.month);
    if let Some(limit) = wallet.monthly_spend_limit
        && spent.micros() + debit.amount.micros() > limit
    {
        return Ok(DebitRefusal::SpendLimit {
            limit: Money::from_micros(limit),
            spent,
        });
    }
    Ok(DebitRefusal::InsufficientFunds {
        balance: Money::from_micros(wallet.balance),
    })
}

/// Adds `amount` to the wallet of `tenant`; returns the balance after.
pub fn credit(conn: &mut AnyConnection, tenant: &Tenant, amount: Money) -> Result<i64, DbError> {
    Ok(diesel::update(tenant.wallets())
        .set((
            wallets::balance.eq(wallets::balance + amount.micros()),
            wallets::updated_at.eq(now()),
        ))
        .returning(wallets::balance)
        .get_result(conn)?)
}

/// Locks the wallets of `tenants` (on PostgreSQL, `FOR UPDATE`, one
/// by one in the order of their ids) until the transaction ends. A change
/// to two wallets takes them this way first, in the order the charge
/// writers take theirs ([`super::charge_queue`]), so the two can't each
/// hold the wallet the other waits for. SQLite's write transactions run
/// one at a time and need no locks.
pub fn lock_wallets(conn: &mut AnyConnection, tenants: &[&Tenant]) -> Result<(), DbError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let mut in_order = tenants.to_vec();
        in_order.sort();
        for tenant in in_order {
            tenant
                .wallets()
                .select(wallets::workspace_id)
                .for_update()
                .first::<WorkspaceId>(pg)?;
        }
    }
    Ok(())
}

/// Takes `amount` from the wallet of `tenant` if its balance covers
/// it (a move of funds, not a charge: no spend controls apply); the
/// balance after, or `None` when it doesn't.
pub fn withdraw(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    amount: Money,
) -> Result<Option<i64>, DbError> {
    Ok(diesel::update(
        tenant
            .wallets()
            .filter(wallets::balance.ge(amount.micros())),
    )
    .set((
        wallets::balance.eq(wallets::balance - amount.micros()),
        wallets::updated_at.eq(now()),
    ))
    .returning(wallets::balance)
    .get_result(conn)
    .optional()?)
}

/// A coupon as an operator lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = coupons)]
pub struct CouponRow {
    /// The code people type (stored in capitals).
    pub code: String,
    /// Micro-credits it adds.
    pub amount: i64,
    /// After this it can't be redeemed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub expires_at: Option<NaiveDateTime>,
    /// How many workspaces may redeem it (`None`: any number).
    pub max_redemptions: Option<i32>,
    /// How many have.
    pub redemptions: i32,
}

/// Creates a coupon; a taken code is `Conflict`.
pub fn create_coupon(
    conn: &mut AnyConnection,
    code: &str,
    amount: Money,
    expires_at: Option<NaiveDateTime>,
    max_redemptions: Option<i32>,
) -> Result<(), DbError> {
    diesel::insert_into(coupons::table)
        .values((
            coupons::code.eq(code),
            coupons::amount.eq(amount.micros()),
            coupons::expires_at.eq(expires_at),
            coupons::max_redemptions.eq(max_redemptions),
            coupons::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every coupon, newest first.
pub fn coupons(conn: &mut AnyConnection) -> Result<Vec<CouponRow>, DbError> {
    Ok(coupons::table
        .order(coupons::created_at.desc())
        .select(CouponRow::as_select())
        .load(conn)?)
}

/// Counts one more redemption of `code` if it exists, hasn't expired and
/// isn't used up (one conditional update; concurrent redemptions queue on
/// the row); returns its amount, or `None`.
pub fn claim_coupon(conn: &mut AnyConnection, code: &str) -> Result<Option<Money>, DbError> {
    let at = now();
    let claimed: Option<i64> = diesel::update(
        coupons::table
            .filter(coupons::code.eq(code))
            .filter(coupons::expires_at.is_null().or(coupons::expires_at.gt(at)))
            .filter(
                coupons::max_redemptions
                    .is_null()
                    .or(coupons::redemptions.nullable().lt(coupons::max_redemptions)),
            ),
    )
    .set(coupons::redemptions.eq(coupons::redemptions + 1))
    .returning(coupons::amount)
    .get_result(conn)
    .optional()?;
    Ok(claimed.map(Money::from_micros))
}

/// The coupon with this code, if any (to say why a claim failed).
pub fn coupon(conn: &mut AnyConnection, code: &str) -> Result<Option<CouponRow>, DbError> {
    Ok(coupons::table
        .find(code)
        .select(CouponRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves the scoped wallet to `plan` and sets the limits the plan
/// includes on its workspace.
pub fn set_plan(
    conn: &mut AnyConnection,
    scope: &Scope,
    plan: &crate::config::PlanSpec,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.wallets())
            .set(wallets::plan.eq(&plan.key))
            .execute(conn)?,
    )?;
    expect_one(
        diesel::update(scope.workspace_row())
            .set((
                workspaces::max_running_agents.eq(plan.max_running_agents),
                workspaces::max_agent_hours.eq(plan.max_agent_hours),
                workspaces::max_app_instances.eq(plan.max_app_instances),
            ))
            .execute(conn)?,
    )
}

/// Up to `limit` wallets on `plan` whose fee `paid` (`YYYY-MM:plan`) is
/// not yet charged: the plan-fee job's work, each wallet's workspace the
/// [`Tenant`] the job acts for.
pub fn due_plan_fees(
    conn: &mut AnyConnection,
    plan: &str,
    paid: &str,
    limit: i64,
) -> Result<Vec<Tenant>, DbError> {
    Ok(wallets::table
        .filter(wallets::plan.eq(plan))
        .filter(wallets::plan_fee_paid.ne(paid))
        .select(wallets::workspace_id)
        .limit(limit)
        .load(conn)?)
}

/// Notes that `tenant`'s fee `paid` (`YYYY-MM:plan`) is charged.
pub fn mark_fee_paid(conn: &mut AnyConnection, tenant: &Tenant, paid: &str) -> Result<(), DbError> {
    expect_one(
        diesel::update(tenant.wallets())
            .set(wallets::plan_fee_paid.eq(paid))
            .execute(conn)?,
    )
}

/// Suspends `workspace` if it is active (its plan fee went unpaid);
/// whether it was.
pub fn suspend(conn: &mut AnyConnection, workspace: &WorkspaceId) -> Result<bool, DbError> {
    let changed = diesel::update(
        workspaces::table
            .filter(workspaces::id.eq(workspace))
            .filter(workspaces::status.eq(WorkspaceStatus::Active)),
    )
    .set(workspaces::status.eq(WorkspaceStatus::Suspended))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Reactivates `workspace` if it is suspended (its wallet was funded);
/// whether it was.
pub fn reactivate(conn: &mut AnyConnection, workspace: &WorkspaceId) -> Result<bool, DbError> {
    let changed = diesel::update(
        workspaces::table
            .filter(workspaces::id.eq(workspace))
            .filter(workspaces::status.eq(WorkspaceStatus::Suspended)),
    )
    .set(workspaces::status.eq(WorkspaceStatus::Active))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The status of `workspace` as it is now (not as the request began).
pub fn status_of(conn: &mut AnyConnection, workspace: &Tenant) -> Result<WorkspaceStatus, DbError> {
    Ok(workspace
        .workspace_row()
        .select(workspaces::status)
        .first(conn)?)
}

/// A ledger entry to append.
pub struct NewEntry<'a> {
    /// The wallet's workspace.
    pub workspace: &'a WorkspaceId,
    /// What moved the balance.
    pub kind: LedgerKind,
    /// Signed: a debit is negative.
    pub amount: Money,
    /// The balance the change left.
    pub balance_after: i64,
    /// Unique per wallet: the same request is entered once.
    pub idempotency_key: &'a str,
    /// Tells a repeat of the request from a reuse of its key.
    pub request_digest: &'a str,
    /// The project charged, for a charge.
    pub project: Option<&'a ProjectId>,
    /// The model charged for, for a charge.
    pub model: Option<&'a str>,
    /// What for, in the words of whoever asked.
    pub description: &'a str,
    /// Who asked (a top-up's member); `None` for the platform or a job.
    pub user: Option<&'a UserId>,
}

/// An entry as pages and the API show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct EntryRow {
    /// Id.
    pub id: LedgerEntryId,
    /// What moved the balance.
    pub kind: LedgerKind,
    /// Signed micro-credits.
    pub amount: i64,
    /// The balance after it.
    pub balance_after: i64,
    /// The digest of the request that made it.
    pub request_digest: String,
    /// The project charged.
    pub project_id: Option<ProjectId>,
    /// The model charged for.
    pub model: Option<String>,
    /// What for.
    pub description: String,
    /// When.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

/// Appends an entry; a second entry with the same idempotency key in the
/// wallet is refused by the unique key (`Conflict(LedgerIdempotencyKey)`).
pub fn enter(conn: &mut AnyConnection, entry: &NewEntry<'_>) -> Result<EntryRow, DbError> {
    let id = LedgerEntryId::generate();
    let at = now();
    let statement = EntryStatement {
        entry,
        id: &id,
        amount: entry.amount.micros(),
        at,
    };
    natively!(conn, |native| statement.execute(native))?;
    Ok(EntryRow {
        id,
        kind: entry.kind,
        amount: entry.amount.micros(),
        balance_after: entry.balance_after,
        request_digest: entry.request_digest.to_owned(),
        project_id: entry.project.cloned(),
        model: entry.model.map(str::to_owned),
        description: entry.description.to_owned(),
        created_at: at,
    })
}

/// The entry of `tenant`'s wallet made under `key`, if any.
pub fn entry_by_key(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    key: &str,
) -> Result<Option<EntryRow>, DbError> {
    Ok(tenant
        .ledger_entries()
        .filter(ledger_entries::idempotency_key.eq(key))
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?)
}

/// Where a page of entries starts: after the entry with this time and id
/// (the last of the previous page).
#[derive(Debug, Clone)]
pub struct EntryCursor {
    /// The previous page's last entry's time.
    pub created_at: NaiveDateTime,
    /// Its id, which orders entries of the same microsecond.
    pub id: LedgerEntryId,
}

impl EntryCursor {
    /// The cursor that continues after `entry`.
    pub fn after(entry: &EntryRow) -> Self {
        Self {
            created_at: entry.created_at,
            id: entry.id.clone(),
        }
    }

    /// As a page link carries it: `<microseconds since the epoch>.<entry id>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.created_at.and_utc().timestamp_micros(),
            self.id.as_str()
        )
    }

    /// Reads [`EntryCursor::encode`]'s text; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
        Some(Self {
            created_at,
            id: LedgerEntryId::parse(id)?,
        })
    }
}

/// Which entries of a wallet's history to show: every field that is set
/// must match.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Charges of this project.
    pub project: Option<ProjectId>,
    /// Charges for this model.
    pub model: Option<String>,
    /// Entries made by the member of the workspace with this email
    /// (top-ups, coupons, transfers); none when no member has it.
    pub member_email: Option<String>,
    /// From this time on.
    pub from: Option<NaiveDateTime>,
    /// Before this time.
    pub until: Option<NaiveDateTime>,
}

/// Up to `limit` entries of the scoped wallet that pass `filter`, newest
/// first, older than `after` when given.
pub fn entries(
    conn: &mut AnyConnection,
    scope: &Scope,
    filter: &EntryFilter,
    after: Option<&EntryCursor>,
    limit: i64,
) -> Result<Vec<EntryRow>, DbError> {
    let mut query = scope
        .ledger_entries()
        .order((ledger_entries::created_at.desc(), ledger_entries::id.desc()))
        .select(EntryRow::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(project) = &filter.project {
        query = query.filter(ledger_entries::project_id.eq(project));
    }
    if let Some(model) = &filter.model {
        query = query.filter(ledger_entries::model.eq(model));
    }
    if let Some(email) = &filter.member_email {
        let member = scope
            .memberships()
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .filter(users::email.eq(email))
            .select(users::id.nullable());
        query = query.filter(ledger_entries::user_id.eq_any(member));
    }
    if let Some(from) = filter.from {
        query = query.filter(ledger_entries::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(ledger_entries::created_at.lt(until));
    }
    if let Some(cursor) = after {
        query = query.filter(
            ledger_entries::created_at
                .lt(cursor.created_at)
                .or(ledger_entries::created_at
                    .eq(cursor.created_at)
                    .and(ledger_entries::id.lt(&cursor.id))),
        );
    }
    Ok(query.load(conn)?)
}

/// What the billing page shows of the wallets: the scoped workspace's,
/// with its allowed models and its projects, and what each of its teams
/// spent.
#[derive(Debug, Clone)]
pub struct WalletOverview {
    /// The scoped workspace's wallet.
    pub wallet: WalletRow,
    /// The models it may be charged for, by name, in order (empty when it
    /// isn't restricted).
    pub models: Vec<String>,
    /// The workspace's projects by name (the history's filter menu, and
    /// the names of the projects its entries charged).
    pub projects: Vec<(ProjectId, String)>,
    /// In an organization: what each team spent in the month asked for,
    /// by team name (teams without a charge that month show 0).
    pub team_spend: Vec<(String, i64)>,
}

diesel::define_sql_function!(
    /// SQL `string_agg(value, separator)` (PostgreSQL, and SQLite from
    /// 3.44): the allowed models travel in the wallet's row as one text
    /// rather than as a row each, so joining the projects multiplies
    /// nothing.
    #[aggregate]
    fn string_agg(
        value: diesel::sql_types::Text,
        separator: diesel::sql_types::Text,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>
);

/// Separates the allowed models in [`wallet_overview`]'s text: a model's
/// name is letters, digits and `._:/@-` (the controls check it), so it
/// never holds one.
const MODEL_SEPARATOR: &str = "\n";

/// The scoped wallet with its allowed models, its projects and its teams'
/// spend in `month`, in one statement: a row per team and, for the
/// workspace's own wallet, a row per project (one when it has none).
pub fn wallet_overview(
    conn: &mut AnyConnection,
    scope: &Scope,
    month: &str,
) -> Result<WalletOverview, DbError> {
    let own_project = projects::workspace_id
        .eq(workspaces::id)
        .and(workspaces::id.eq(scope.workspace_id()));
    let allowed_models = scope
        .wallet_models()
        .select(string_agg(wallet_models::model, MODEL_SEPARATOR))
        .single_value();
    let rows: Vec<OverviewLine> = scope
        .workspace_and_teams()
        .inner_join(wallets::table.on(wallets::workspace_id.eq(workspaces::id)))
        .left_join(projects::table.on(own_project))
        .order((
            workspaces::name.asc(),
            workspaces::id.asc(),
            projects::name.asc(),
            projects::id.asc(),
        ))
        .select((
            workspaces::id,
            workspaces::name,
            WalletRow::as_select(),
            allowed_models,
            projects::id.nullable(),
            projects::name.nullable(),
        ))
        .load(conn)?;
    fold_overview(scope, month, rows)
}

/// A row of [`wallet_overview`]: a workspace, its wallet, the own
/// wallet's allowed models and one of its projects.
type OverviewLine = (
    WorkspaceId,
    String,
    WalletRow,
    Option<String>,
    Option<ProjectId>,
    Option<String>,
);

/// Folds [`wallet_overview`]'s rows into the own wallet, its models and
/// projects, and the teams' spend.
fn fold_overview(
    scope: &Scope,
    month: &str,
    rows: Vec<OverviewLine>,
) -> Result<WalletOverview, DbError> {
    let mut own: Option<(WalletRow, Option<String>)> = None;
    let mut projects = Vec::new();
    let mut team_spend = Vec::new();
    for (workspace, name, wallet, models, project_id, project_name) in rows {
        if &workspace == scope.workspace_id() {
            projects.extend(project_id.zip(project_name));
            own.get_or_insert((wallet, models));
        } else {
            let spent = if wallet.spend_month == month {
                wallet.month_spent
            } else {
                0
            };
            team_spend.push((name, spent));
        }
    }
    let (wallet, models) = own.ok_or(DbError::NotFound)?;
    let mut models: Vec<String> = match models {
        Some(text) if wallet.models_restricted => {
            text.split(MODEL_SEPARATOR).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    };
    models.sort();
    Ok(WalletOverview {
        wallet,
        models,
        projects,
        team_spend,
    })
}

/// The models the scoped wallet may be charged for, by name.
pub fn allowed_models(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<String>, DbError> {
    Ok(scope
        .wallet_models()
        .order(wallet_models::model.asc())
        .select(wallet_models::model)
        .load(conn)?)
}

/// Sets the scoped wallet's spend controls: its monthly limit and, when
/// `models` is `Some`, the only models it may be charged for.
pub fn set_controls(
    conn: &mut AnyConnection,
    scope: &Scope,
    monthly_limit: Option<Money>,
    member_limit: Option<Money>,
    models: Option<&[String]>,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.wallets())
            .set((
                wallets::monthly_spend_limit.eq(monthly_limit.map(Money::micros)),
                wallets::member_monthly_limit.eq(member_limit.map(Money::micros)),
                wallets::models_restricted.eq(models.is_some()),
                wallets::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )?;
    diesel::delete(scope.wallet_models()).execute(conn)?;
    for model in models.unwrap_or_default() {
        diesel::insert_into(wallet_models::table)
            .values((
                wallet_models::workspace_id.eq(scope.workspace_id()),
                wallet_models::model.eq(model),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A top-up as its receipt shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = top_ups)]
pub struct TopUpRow {
    /// Id (the receipt's number).
    pub id: TopUpId,
    /// The wallet's workspace, which the payment's notification acts for.
    #[diesel(column_name = workspace_id)]
    pub workspace: Tenant,
    /// Micro-credits asked for.
    pub amount: i64,
    /// Where it stands.
    pub status: TopUpStatus,
    /// The card's last four digits.
    pub card_last4: String,
    /// Why the card was declined.
    pub decline_reason: String,
    /// The ledger entry that credited it.
    pub ledger_entry_id: Option<LedgerEntryId>,
    /// Who asked for it.
    pub requested_by: Option<UserId>,
    /// When it was asked for.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// When the provider's answer arrived.
    #[diesel(deserialize_as = MaybeStamp)]
    pub completed_at: Option<NaiveDateTime>,
}

/// Records a pending top-up of the scoped wallet.
pub fn create_top_up(
    conn: &mut AnyConnection,
    scope: &Scope,
    amount: Money,
    card_last4: &str,
) -> Result<TopUpId, DbError> {
    let id = TopUpId::generate();
    diesel::insert_into(top_ups::table)
        .values((
            top_ups::id.eq(&id),
            top_ups::workspace_id.eq(scope.workspace_id()),
            top_ups::amount.eq(amount.micros()),
            top_ups::status.eq(TopUpStatus::Pending),
            top_ups::card_last4.eq(card_last4),
            top_ups::requested_by.eq(scope.user_id()),
            top_ups::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// One top-up of the scoped wallet.
pub fn top_up(conn: &mut AnyConnection, scope: &Scope, id: &TopUpId) -> Result<TopUpRow, DbError> {
    Ok(scope
        .top_ups()
        .filter(top_ups::id.eq(id))
        .select(TopUpRow::as_select())
        .first(conn)?)
}

/// A top-up by id alone: the provider's notification names it.
pub fn top_up_by_id(conn: &mut AnyConnection, id: &TopUpId) -> Result<TopUpRow, DbError> {
    Ok(top_ups::table
        .find(id)
        .select(TopUpRow::as_select())
        .first(conn)?)
}

/// Moves a pending top-up to `status`: the gate that makes a repeated
/// notification change nothing. `false` when it was no longer pending.
pub fn settle_top_up(
    conn: &mut AnyConnection,
    id: &TopUpId,
    status: TopUpStatus,
    decline_reason: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        top_ups::table
            .filter(top_ups::id.eq(id))
            .filter(top_ups::status.eq(TopUpStatus::Pending)),
    )
    .set((
        top_ups::status.eq(status),
        top_ups::decline_reason.eq(decline_reason),
        top_ups::completed_at.eq(Some(now())),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Links a credited top-up to its ledger entry (for the receipt).
pub fn link_entry(
    conn: &mut AnyConnection,
    id: &TopUpId,
    entry: &LedgerEntryId,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(top_ups::table.filter(top_ups::id.eq(id)))
            .set(top_ups::ledger_entry_id.eq(Some(entry)))
            .execute(conn)?,
    )
}
