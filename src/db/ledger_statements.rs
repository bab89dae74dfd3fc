//! A charge's debit, its day's spend and every ledger entry as statements
//! each connection prepares once.
//!
//! diesel never caches an `UPDATE` or an `ON CONFLICT … DO UPDATE` (a
//! changeset's SQL may change with its values), so on SQLite every charge
//! parsed its debit anew: 330 000 of the 944 000 instructions a charge cost
//! went to `sqlite3_prepare`, and another 170 000 to rendering the SQL for
//! it, all inside the one-writer-at-a-time window that bounds SQLite's
//! charges. The SQL here is fixed text with a static query id, so a
//! connection prepares it the first time and reuses it after (PostgreSQL's
//! member charges get the same). diesel does cache its insert of a ledger
//! entry, but walks its twelve values four times per call to find it (a
//! tenth of a charge); the entry here is bound once. The one-statement
//! PostgreSQL charge is [`super::charge_statement`].
//!
//! The binds are pushed in the order their placeholders appear (SQLite's
//! `?` are positional).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use super::billing::Debit;
use super::billing::NewEntry;
use crate::domain::{LedgerEntryId, LedgerKind, ProjectId, UserId, WorkspaceId, WorkspaceStatus};

/// The conditional debit of [`super::billing::debit`]: takes the amount if
/// the workspace is active, the balance covers it, the month's spend stays
/// within the limit and the model is allowed, and returns the wallet after
/// it (no row, and nothing written, when a condition failed).
pub(super) struct DebitStatement<'a> {
    /// The debit.
    pub debit: &'a Debit<'a>,
    /// Its amount in micro-credits, bound as a number.
    pub amount: i64,
    /// Now, the wallet's `updated_at`.
    pub at: NaiveDateTime,
}

/// Its own type (with any lifetime) is its static query id.
impl QueryId for DebitStatement<'_> {
    type QueryId = DebitStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for DebitStatement<'_> {
    /// Balance, month spent, monthly spend limit, member monthly limit.
    type SqlType = (BigInt, BigInt, Nullable<BigInt>, Nullable<BigInt>);
}

impl<Conn> RunQueryDsl<Conn> for DebitStatement<'_> {}

impl<DB> QueryFragment<DB> for DebitStatement<'_>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Timestamp>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    WorkspaceId: ToSql<Text, DB>,
    WorkspaceStatus: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let (debit, amount) = (self.debit, &self.amount);
        out.push_sql("UPDATE wallets SET balance = balance - ");
        out.push_bind_param::<BigInt, _>(amount)?;
        out.push_sql(", month_spent = CASE WHEN spend_month = ");
        out.push_bind_param::<Text, _>(debit.month)?;
        out.push_sql(" THEN month_spent ELSE 0 END + ");
        out.push_bind_param::<BigInt, _>(amount)?;
        out.push_sql(", spend_month = ");
        out.push_bind_param::<Text, _>(debit.month)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" WHERE workspace_id = ");
        out.push_bind_param::<Text, _>(debit.workspace)?;
        out.push_sql(" AND balance >= ");
        out.push_bind_param::<BigInt, _>(amount)?;
        out.push_sql(" AND (monthly_spend_limit IS NULL OR CASE WHEN spend_month = ");
        out.push_bind_param::<Text, _>(debit.month)?;
        out.push_sql(" THEN month_spent ELSE 0 END + ");
        out.push_bind_param::<BigInt, _>(amount)?;
        out.push_sql(
            " <= monthly_spend_limit) AND (NOT models_restricted OR EXISTS (SELECT 1 \
             FROM wallet_models WHERE wallet_models.workspace_id = ",
        );
        out.push_bind_param::<Text, _>(debit.workspace)?;
        out.push_sql(" AND wallet_models.model = ");
        out.push_bind_param::<Text, _>(debit.model)?;
        out.push_sql(")) AND EXISTS (SELECT 1 FROM workspaces WHERE workspaces.id = ");
        out.push_bind_param::<Text, _>(debit.workspace)?;
        out.push_sql(" AND workspaces.status = ");
        out.push_bind_param::<Text, _>(&WorkspaceStatus::Active)?;
        out.push_sql(") RETURNING balance, month_spent, monthly_spend_limit, member_monthly_limit");
        Ok(())
    }
}

/// Adds a charge to its day's total for its project and model, or starts
/// that total: one statement, where an update and then an insert were two.
pub(super) struct DailySpendStatement<'a> {
    /// The debit it records.
    pub debit: &'a Debit<'a>,
    /// Its amount in micro-credits, bound as a number.
    pub amount: i64,
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: &'a str,
    /// The project charged.
    pub project: &'a ProjectId,
}

/// Its own type (with any lifetime) is its static query id.
impl QueryId for DailySpendStatement<'_> {
    type QueryId = DailySpendStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for DailySpendStatement<'_> {}

impl<DB> QueryFragment<DB> for DailySpendStatement<'_>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    WorkspaceId: ToSql<Text, DB>,
    ProjectId: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO daily_spend (workspace_id, day, project_id, model, amount, charges) VALUES (",
        );
        out.push_bind_param::<Text, _>(self.debit.workspace)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.day)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.project)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.debit.model)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql(
            ", 1) ON CONFLICT (workspace_id, day, project_id, model) DO UPDATE SET \
             amount = daily_spend.amount + excluded.amount, charges = daily_spend.charges + 1",
        );
        Ok(())
    }
}

/// Appends an entry to the ledger (see [`super::billing::enter`]).
pub(super) struct EntryStatement<'a> {
    /// The entry.
    pub entry: &'a NewEntry<'a>,
    /// Its id.
    pub id: &'a LedgerEntryId,
    /// Its signed amount in micro-credits, bound as a number.
    pub amount: i64,
    /// Now.
    pub at: NaiveDateTime,
}

/// Its own type (with any lifetime) is its static query id.
impl QueryId for EntryStatement<'_> {
    type QueryId = EntryStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for EntryStatement<'_> {}

impl<DB> QueryFragment<DB> for EntryStatement<'_>
where
    DB: Backend
        + HasSqlType<BigInt>
        + HasSqlType<Text>
        + HasSqlType<Timestamp>
        + HasSqlType<Nullable<Text>>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    LedgerEntryId: ToSql<Text, DB>,
    LedgerKind: ToSql<Text, DB>,
    WorkspaceId: ToSql<Text, DB>,
    for<'x> Option<&'x ProjectId>: ToSql<Nullable<Text>, DB>,
    for<'x> Option<&'x str>: ToSql<Nullable<Text>, DB>,
    for<'x> Option<&'x UserId>: ToSql<Nullable<Text>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let entry = self.entry;
        out.push_sql(
            "INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, \
             idempotency_key, request_digest, project_id, model, description, user_id, created_at) \
             VALUES (",
        );
        out.push_bind_param::<Text, _>(self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(entry.workspace)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&entry.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&entry.balance_after)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(entry.idempotency_key)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(entry.request_digest)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&entry.project)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&entry.model)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(entry.description)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&entry.user)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    use super::*;
    use crate::domain::{Money, ProjectId, WorkspaceId};

    fn count(conn: &mut diesel::SqliteConnection, sql: &str) -> i64 {
        diesel::select(diesel::dsl::sql::<BigInt>(&format!("({sql})")))
            .get_result(conn)
            .expect(sql)
    }

    /// Two charges' statements on one SQLite connection: each statement is
    /// put in the connection's cache once (the second charge reuses it,
    /// where diesel's own `UPDATE` and upsert were parsed every time), and
    /// they debit, add up the day and append to the ledger as they should.
    #[test]
    fn each_statement_is_prepared_once_and_does_its_part() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
        conn.batch_execute(
            "CREATE TABLE workspaces (id TEXT PRIMARY KEY, status TEXT NOT NULL);
             CREATE TABLE wallets (workspace_id TEXT PRIMARY KEY, balance BIGINT NOT NULL,
                 spend_month TEXT NOT NULL DEFAULT '', month_spent BIGINT NOT NULL DEFAULT 0,
                 monthly_spend_limit BIGINT, member_monthly_limit BIGINT,
                 models_restricted BOOLEAN NOT NULL DEFAULT FALSE, updated_at TIMESTAMP);
             CREATE TABLE wallet_models (workspace_id TEXT, model TEXT);
             CREATE TABLE daily_spend (workspace_id TEXT, day TEXT, project_id TEXT,
                 model TEXT, amount BIGINT NOT NULL, charges BIGINT NOT NULL,
                 PRIMARY KEY (workspace_id, day, project_id, model));
             CREATE TABLE ledger_entries (id TEXT PRIMARY KEY, workspace_id TEXT, kind TEXT,
                 amount BIGINT, balance_after BIGINT, idempotency_key TEXT, request_digest TEXT,
                 project_id TEXT, model TEXT, description TEXT, user_id TEXT,
                 created_at TIMESTAMP, UNIQUE (workspace_id, idempotency_key));",
        )
        .expect("tables");
        let workspace = WorkspaceId::generate();
        let project = ProjectId::generate();
        conn.batch_execute(&format!(
            "INSERT INTO workspaces VALUES ('{workspace}', 'active');
             INSERT INTO wallets (workspace_id, balance) VALUES ('{workspace}', 1000);",
            workspace = workspace.as_str()
        ))
        .expect("a funded wallet");
        let cached = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&cached);
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::CacheQuery { .. }) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let debit = Debit {
            workspace: &workspace,
            amount: Money::from_micros(300),
            model: "m",
            month: "2026-12",
        };
        for key in ["first", "second"] {
            let at = chrono::Utc::now().naive_utc();
            let after = DebitStatement {
                debit: &debit,
                amount: 300,
                at,
            }
            .get_result::<(i64, i64, Option<i64>, Option<i64>)>(&mut conn)
            .expect("debited");
            DailySpendStatement {
                debit: &debit,
                amount: 300,
                day: "2026-12-03",
                project: &project,
            }
            .execute(&mut conn)
            .expect("day added up");
            let entry = NewEntry {
                workspace: &workspace,
                kind: LedgerKind::Charge,
                amount: -debit.amount,
                balance_after: after.0,
                idempotency_key: key,
                request_digest: "digest",
                project: Some(&project),
                model: Some("m"),
                description: "",
                user: None,
            };
            EntryStatement {
                entry: &entry,
                id: &LedgerEntryId::generate(),
                amount: -300,
                at,
            }
            .execute(&mut conn)
            .expect("entered");
        }
        assert_eq!(
            cached.load(Ordering::Relaxed),
            3,
            "one cached statement each"
        );
        assert_eq!(count(&mut conn, "SELECT balance FROM wallets"), 400);
        assert_eq!(count(&mut conn, "SELECT month_spent FROM wallets"), 600);
        assert_eq!(
            count(&mut conn, "SELECT amount * 10 + charges FROM daily_spend"),
            6002
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT SUM(amount) FROM ledger_entries WHERE kind = 'charge'"
            ),
            -600
        );
        assert_eq!(
            count(&mut conn, "SELECT MIN(balance_after) FROM ledger_entries"),
            400
        );
        let refused = DebitStatement {
            debit: &Debit {
                amount: Money::from_micros(500),
                ..debit
            },
            amount: 500,
            at: chrono::Utc::now().naive_utc(),
        }
        .get_result::<(i64, i64, Option<i64>, Option<i64>)>(&mut conn)
        .optional()
        .expect("ran");
        assert!(refused.is_none(), "500 is more than the 400 left");
        assert_eq!(count(&mut conn, "SELECT balance FROM wallets"), 400);
    }
}
