//! The PostgreSQL charge as a statement PostgreSQL prepares once per
//! connection.
//!
//! diesel never caches a `sql_query` (its text could be anything), so the
//! charge went to PostgreSQL as an unnamed statement: parsed and planned on
//! every call, for a statement of three data-modifying CTEs whose planning
//! costs more than running it. Measured on the charge bench (64 wallets,
//! PostgreSQL on this host): 648 µs of PostgreSQL's CPU per charge, while
//! `pgbench -M prepared` ran the same statement at 5 300–6 500 a second.
//! A type with a static query id is prepared under that id the first time
//! a connection runs it and executed by name after that, and PostgreSQL
//! keeps its generic plan (every parameter is compared by equality, so the
//! generic plan is the one each execution would get).
//!
//! Each parameter is bound once, in `p`, and the statement reads it from
//! there: the binds are pushed in the order their placeholders appear.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use super::billing::NewCharge;
use crate::domain::{LedgerEntryId, LedgerKind, WorkspaceStatus};

/// One charge as [`ChargeStatement`]'s parameters.
pub(super) struct ChargeStatement<'a> {
    /// The charge (for no particular member: their limit is not in it).
    pub charge: &'a NewCharge,
    /// Its amount in micro-credits, bound as a number.
    pub amount: i64,
    /// Now.
    pub at: NaiveDateTime,
    /// The new ledger entry's id.
    pub entry_id: &'a LedgerEntryId,
}

/// Its own type (with any lifetime) is its static query id.
impl QueryId for ChargeStatement<'_> {
    type QueryId = ChargeStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ChargeStatement<'_> {
    /// The wallet after the debit: balance, month spent, monthly spend
    /// limit, member monthly limit. No row when the debit's conditions
    /// failed (nothing was written).
    type SqlType = (BigInt, BigInt, Nullable<BigInt>, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for ChargeStatement<'_> {}

impl QueryFragment<Pg> for ChargeStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let charge = self.charge;
        out.push_sql("WITH p AS NOT MATERIALIZED (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql("::bigint AS amount, ");
        out.push_bind_param::<Text, _>(&charge.month)?;
        out.push_sql("::text AS month, ");
        out.push_bind_param::<Text, _>(&charge.workspace)?;
        out.push_sql("::text AS workspace, ");
        out.push_bind_param::<Text, _>(&charge.model)?;
        out.push_sql("::text AS model, ");
        out.push_bind_param::<Text, _>(&charge.day)?;
        out.push_sql("::text AS day, ");
        out.push_bind_param::<Text, _>(&charge.project)?;
        out.push_sql("::text AS project, ");
        out.push_bind_param::<Text, _>(&charge.idempotency_key)?;
        out.push_sql("::text AS idempotency_key, ");
        out.push_bind_param::<Text, _>(&charge.request_digest)?;
        out.push_sql("::text AS request_digest, ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql("::timestamp AS at, ");
        out.push_bind_param::<Text, _>(&WorkspaceStatus::Active)?;
        out.push_sql("::text AS active, ");
        out.push_bind_param::<Text, _>(self.entry_id)?;
        out.push_sql("::text AS entry_id, ");
        out.push_bind_param::<Text, _>(&LedgerKind::Charge)?;
        out.push_sql("::text AS kind, ");
        out.push_bind_param::<Text, _>(&charge.description)?;
        out.push_sql("::text AS description)");
        out.push_sql(BODY);
        Ok(())
    }
}

/// The debit (`UPDATE … RETURNING`), the day's spend and the ledger entry,
/// reading the parameters from `p`. The inserts read the update's
/// `RETURNING`, so nothing is written when the debit's conditions fail, and
/// a duplicate idempotency key undoes the whole statement.
const BODY: &str = ", debited AS ( \
   UPDATE wallets SET \
     balance = balance - p.amount, \
     month_spent = CASE WHEN spend_month = p.month THEN month_spent ELSE 0 END + p.amount, \
     spend_month = p.month, updated_at = p.at \
   FROM p \
   WHERE workspace_id = p.workspace AND balance >= p.amount \
     AND (monthly_spend_limit IS NULL \
       OR CASE WHEN spend_month = p.month THEN month_spent ELSE 0 END + p.amount <= monthly_spend_limit) \
     AND (NOT models_restricted \
       OR EXISTS (SELECT 1 FROM wallet_models m WHERE m.workspace_id = p.workspace AND m.model = p.model)) \
     AND EXISTS (SELECT 1 FROM workspaces w WHERE w.id = p.workspace AND w.status = p.active) \
   RETURNING balance, month_spent, monthly_spend_limit, member_monthly_limit), \
 spent AS ( \
   INSERT INTO daily_spend (workspace_id, day, project_id, model, amount, charges) \
   SELECT p.workspace, p.day, p.project, p.model, p.amount, 1 FROM debited, p \
   ON CONFLICT (workspace_id, day, project_id, model) DO UPDATE \
   SET amount = daily_spend.amount + EXCLUDED.amount, charges = daily_spend.charges + 1), \
 entered AS ( \
   INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, \
     idempotency_key, request_digest, project_id, model, description, created_at) \
   SELECT p.entry_id, p.workspace, p.kind, -p.amount, debited.balance, p.idempotency_key, \
     p.request_digest, p.project, p.model, p.description, p.at FROM debited, p) \
 SELECT balance, month_spent, monthly_spend_limit, member_monthly_limit FROM debited";

/// Many charges as one statement ([`CHARGES_BODY`]): a batch of the
/// charge writer ([`super::charge_queue`]) whose wallets each cover all of
/// their charges. One statement takes each wallet's lock once and parses
/// each table's constraints once, where one statement per charge paid for
/// both per charge: on the charge bench, a charge's PostgreSQL CPU went
/// mostly to starting its executor, its CHECK constraints and its foreign
/// key's trigger, not to the rows. The charges are bound as arrays, so
/// the statement's text (and its prepared plan) is the same for every
/// batch.
pub(super) struct ChargesStatement<'a> {
    entry_ids: Vec<&'a str>,
    workspaces: Vec<&'a str>,
    amounts: Vec<i64>,
    models: Vec<&'a str>,
    projects: Vec<&'a str>,
    idempotency_keys: Vec<&'a str>,
    request_digests: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    locked: Vec<&'a str>,
    month: &'a str,
    day: &'a str,
    at: NaiveDateTime,
}

impl<'a> ChargesStatement<'a> {
    /// The statement for `charges` (each with its entry's id), all of one
    /// month and day, entered at `at`, that first locks the wallets of
    /// `locked` (the batch's, these charges' among them).
    pub fn new(
        charges: &[(&'a NewCharge, &'a LedgerEntryId)],
        locked: Vec<&'a str>,
        month: &'a str,
        day: &'a str,
        at: NaiveDateTime,
    ) -> Self {
        let column = |part: fn(&'a NewCharge, &'a LedgerEntryId) -> &'a str| {
            charges.iter().map(|(c, id)| part(c, id)).collect()
        };
        Self {
            entry_ids: column(|_, id| id.as_str()),
            workspaces: column(|c, _| c.workspace.as_str()),
            amounts: charges.iter().map(|(c, _)| c.amount.micros()).collect(),
            models: column(|c, _| &c.model),
            projects: column(|c, _| c.project.as_str()),
            idempotency_keys: column(|c, _| &c.idempotency_key),
            request_digests: column(|c, _| &c.request_digest),
            descriptions: column(|c, _| &c.description),
            locked,
            month,
            day,
            at,
        }
    }
}

/// Its own type (with any lifetime) is its static query id.
impl QueryId for ChargesStatement<'_> {
    type QueryId = ChargesStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ChargesStatement<'_> {
    /// Per charge entered: its place in the batch (from 1), and the wallet
    /// as it was just after it: balance, month spent, monthly spend limit,
    /// member monthly limit. A charge whose wallet could not cover all of
    /// the batch's charges to it has no row (nothing of them was written).
    type SqlType = (BigInt, BigInt, BigInt, Nullable<BigInt>, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for ChargesStatement<'_> {}

impl QueryFragment<Pg> for ChargesStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH c AS MATERIALIZED (SELECT * FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.entry_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.workspaces)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<BigInt>, _>(&self.amounts)?;
        out.push_sql("::bigint[]");
        for column in [
            &self.models,
            &self.projects,
            &self.idempotency_keys,
            &self.request_digests,
            &self.descriptions,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Text>, _>(column)?;
            out.push_sql("::text[]");
        }
        out.push_sql(
            ") WITH ORDINALITY AS c(entry_id, workspace, amount, model, project, \
             idempotency_key, request_digest, description, ord)), \
             p AS NOT MATERIALIZED (SELECT ",
        );
        out.push_bind_param::<Text, _>(self.month)?;
        out.push_sql("::text AS month, ");
        out.push_bind_param::<Text, _>(self.day)?;
        out.push_sql("::text AS day, ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql("::timestamp AS at, ");
        out.push_bind_param::<Text, _>(&WorkspaceStatus::Active)?;
        out.push_sql("::text AS active, ");
        out.push_bind_param::<Text, _>(&LedgerKind::Charge)?;
        out.push_sql("::text AS kind, ");
        out.push_bind_param::<Array<Text>, _>(&self.locked)?;
        out.push_sql("::text[] AS wallets_to_lock)");
        out.push_sql(CHARGES_BODY);
        Ok(())
    }
}

/// [`BODY`] for a batch, reading the charges from `c` and the rest from
/// `p`. Each wallet is debited once with its charges' total, under the
/// same conditions as one charge (so only when it covers them all). The
/// locks of all the batch's wallets are taken first, in the order of
/// their ids, as a transfer takes its two
/// ([`super::billing::lock_wallets`]): the batch's other charges, entered
/// after this, need no others. Each entry's balance
/// is the wallet's after the debit plus the batch's later charges to it,
/// as if the charges had come one by one; the day's spend adds each
/// project and model once.
const CHARGES_BODY: &str = ", \
 totals AS MATERIALIZED ( \
   SELECT workspace, SUM(amount)::bigint AS total, array_agg(DISTINCT model) AS models \
   FROM c GROUP BY workspace), \
 locked AS MATERIALIZED ( \
   SELECT workspace_id FROM wallets, p WHERE workspace_id = ANY (p.wallets_to_lock) \
   ORDER BY workspace_id COLLATE \"C\" FOR UPDATE), \
 debited AS ( \
   UPDATE wallets w SET \
     balance = w.balance - t.total, \
     month_spent = CASE WHEN w.spend_month = p.month THEN w.month_spent ELSE 0 END + t.total, \
     spend_month = p.month, updated_at = p.at \
   FROM totals t, p, locked l \
   WHERE w.workspace_id = t.workspace AND l.workspace_id = t.workspace AND w.balance >= t.total \
     AND (w.monthly_spend_limit IS NULL \
       OR CASE WHEN w.spend_month = p.month THEN w.month_spent ELSE 0 END + t.total <= w.monthly_spend_limit) \
     AND (NOT w.models_restricted OR NOT EXISTS (SELECT 1 FROM unnest(t.models) AS wanted(model) \
       WHERE NOT EXISTS (SELECT 1 FROM wallet_models m \
         WHERE m.workspace_id = t.workspace AND m.model = wanted.model))) \
     AND EXISTS (SELECT 1 FROM workspaces ws WHERE ws.id = t.workspace AND ws.status = p.active) \
   RETURNING w.workspace_id, w.balance, w.month_spent, w.monthly_spend_limit, w.member_monthly_limit), \
 done AS MATERIALIZED ( \
   SELECT c.*, (d.balance + COALESCE(SUM(c.amount) OVER later, 0))::bigint AS balance_after, \
     (d.month_spent - COALESCE(SUM(c.amount) OVER later, 0))::bigint AS month_spent, \
     d.monthly_spend_limit, d.member_monthly_limit \
   FROM c JOIN debited d ON d.workspace_id = c.workspace \
   WINDOW later AS (PARTITION BY c.workspace ORDER BY c.ord \
     ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)), \
 spent AS ( \
   INSERT INTO daily_spend (workspace_id, day, project_id, model, amount, charges) \
   SELECT done.workspace, p.day, done.project, done.model, SUM(done.amount)::bigint, COUNT(*) \
   FROM done, p GROUP BY done.workspace, p.day, done.project, done.model \
   ON CONFLICT (workspace_id, day, project_id, model) DO UPDATE \
   SET amount = daily_spend.amount + EXCLUDED.amount, charges = daily_spend.charges + EXCLUDED.charges), \
 entered AS ( \
   INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, \
     idempotency_key, request_digest, project_id, model, description, created_at) \
   SELECT done.entry_id, done.workspace, p.kind, -done.amount, done.balance_after, \
     done.idempotency_key, done.request_digest, done.project, done.model, done.description, p.at \
   FROM done, p) \
 SELECT ord, balance_after, month_spent, monthly_spend_limit, member_monthly_limit FROM done";

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;
    use crate::domain::{Money, ProjectId, WorkspaceId};

    /// A connection to `TENANTRY_TEST_POSTGRES_URL`'s PostgreSQL with the
    /// tables the statement touches as temporary tables of the session
    /// (they hide any real ones), or `None` after saying so (a failure
    /// under `TENANTRY_REQUIRE_POSTGRES`).
    fn connection() -> Option<diesel::PgConnection> {
        let url = crate::db::test_postgres_url("the prepared charge statement")?;
        let mut conn = diesel::PgConnection::establish(&url).expect("connect");
        conn.batch_execute(
            "CREATE TEMPORARY TABLE workspaces (id TEXT PRIMARY KEY, status TEXT NOT NULL);
             CREATE TEMPORARY TABLE wallets (workspace_id TEXT PRIMARY KEY, balance BIGINT NOT NULL,
                 spend_month TEXT NOT NULL DEFAULT '', month_spent BIGINT NOT NULL DEFAULT 0,
                 monthly_spend_limit BIGINT, member_monthly_limit BIGINT,
                 models_restricted BOOLEAN NOT NULL DEFAULT FALSE, updated_at TIMESTAMP);
             CREATE TEMPORARY TABLE wallet_models (workspace_id TEXT, model TEXT);
             CREATE TEMPORARY TABLE daily_spend (workspace_id TEXT, day TEXT, project_id TEXT,
                 model TEXT, amount BIGINT NOT NULL, charges INTEGER NOT NULL,
                 PRIMARY KEY (workspace_id, day, project_id, model));
             CREATE TEMPORARY TABLE ledger_entries (id TEXT PRIMARY KEY, workspace_id TEXT,
                 kind TEXT, amount BIGINT, balance_after BIGINT, idempotency_key TEXT,
                 request_digest TEXT, project_id TEXT, model TEXT, description TEXT,
                 created_at TIMESTAMP, UNIQUE (workspace_id, idempotency_key));",
        )
        .expect("temporary tables");
        Some(conn)
    }

    type After = (i64, i64, Option<i64>, Option<i64>);

    fn charge(
        conn: &mut diesel::PgConnection,
        workspace: &WorkspaceId,
        amount: i64,
        key: &str,
    ) -> QueryResult<Option<After>> {
        let charge = new_charge(workspace, &ProjectId::generate(), amount, key);
        ChargeStatement {
            charge: &charge,
            amount,
            at: chrono::Utc::now().naive_utc(),
            entry_id: &LedgerEntryId::generate(),
        }
        .get_result(conn)
        .optional()
    }

    fn new_charge(
        workspace: &WorkspaceId,
        project: &ProjectId,
        amount: i64,
        key: &str,
    ) -> NewCharge {
        NewCharge {
            workspace: workspace.clone(),
            amount: Money::from_micros(amount),
            model: "m".into(),
            month: "2026-12".into(),
            day: "2026-12-03".into(),
            project: project.clone(),
            idempotency_key: key.into(),
            request_digest: "digest".into(),
            description: String::new(),
            member: None,
        }
    }

    type Entered = (i64, i64, i64, Option<i64>, Option<i64>);

    fn charge_together(
        conn: &mut diesel::PgConnection,
        charges: &[NewCharge],
    ) -> QueryResult<Vec<Entered>> {
        let ids: Vec<LedgerEntryId> = charges.iter().map(|_| LedgerEntryId::generate()).collect();
        let parts: Vec<(&NewCharge, &LedgerEntryId)> = charges.iter().zip(&ids).collect();
        let locked = charges.iter().map(|c| c.workspace.as_str()).collect();
        ChargesStatement::new(
            &parts,
            locked,
            "2026-12",
            "2026-12-03",
            chrono::Utc::now().naive_utc(),
        )
        .load(conn)
    }

    fn count(conn: &mut diesel::PgConnection, sql: &str) -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(sql))
            .get_result(conn)
            .expect(sql)
    }

    /// Charges debit, record and refuse as the one statement should, and
    /// the connection prepares the statement once and then runs it by name.
    #[test]
    fn the_charge_is_prepared_once_per_connection() {
        let Some(mut conn) = connection() else {
            return;
        };
        let workspace = WorkspaceId::generate();
        conn.batch_execute(&format!(
            "INSERT INTO workspaces VALUES ('{workspace}', 'active');
             INSERT INTO wallets (workspace_id, balance) VALUES ('{workspace}', 10)"
        ))
        .expect("wallet");

        assert_eq!(
            charge(&mut conn, &workspace, 4, "a").expect("first"),
            Some((6, 4, None, None))
        );
        assert_eq!(
            charge(&mut conn, &workspace, 4, "b").expect("second"),
            Some((2, 8, None, None))
        );
        assert_eq!(
            charge(&mut conn, &workspace, 4, "c").expect("refused"),
            None,
            "the balance can't cover it"
        );
        assert!(
            charge(&mut conn, &workspace, 1, "a").is_err(),
            "a repeated idempotency key undoes the statement"
        );
        assert_eq!(
            count(&mut conn, "(SELECT balance FROM wallets)"),
            2,
            "only the two charges moved the balance"
        );
        assert_eq!(count(&mut conn, "(SELECT COUNT(*) FROM ledger_entries)"), 2);
        assert_eq!(
            count(&mut conn, "(SELECT SUM(amount) FROM daily_spend)::bigint"),
            8
        );
        assert_eq!(
            count(
                &mut conn,
                "(SELECT COUNT(*) FROM pg_prepared_statements \
                  WHERE statement LIKE 'WITH p AS NOT MATERIALIZED%')"
            ),
            1,
            "one prepared statement served all four charges"
        );
    }

    /// A batch debits each wallet that covers all of its charges once,
    /// records each charge with the balance it would have left had the
    /// charges come one by one, and leaves a wallet that can't cover its
    /// charges untouched; a repeated idempotency key undoes the batch.
    #[test]
    fn charges_together_debit_each_wallet_that_covers_them_all() {
        let Some(mut conn) = connection() else {
            return;
        };
        let (covered, short) = (WorkspaceId::generate(), WorkspaceId::generate());
        let project = ProjectId::generate();
        conn.batch_execute(&format!(
            "INSERT INTO workspaces VALUES ('{covered}', 'active'), ('{short}', 'active');
             INSERT INTO wallets (workspace_id, balance) VALUES ('{covered}', 10), ('{short}', 3)"
        ))
        .expect("wallets");

        let batch = [
            new_charge(&covered, &project, 4, "a1"),
            new_charge(&short, &project, 2, "b1"),
            new_charge(&covered, &project, 3, "a2"),
            new_charge(&short, &project, 2, "b2"),
        ];
        let mut entered = charge_together(&mut conn, &batch).expect("batch");
        entered.sort();
        assert_eq!(
            entered,
            vec![(1, 6, 4, None, None), (3, 3, 7, None, None)],
            "the covered wallet's two charges, as if one after the other"
        );
        assert_eq!(
            count(
                &mut conn,
                &format!("(SELECT balance FROM wallets WHERE workspace_id = '{covered}')")
            ),
            3
        );
        assert_eq!(
            count(
                &mut conn,
                &format!("(SELECT balance FROM wallets WHERE workspace_id = '{short}')")
            ),
            3,
            "3 credits can't cover 2 + 2: nothing of them is written"
        );
        assert_eq!(
            count(
                &mut conn,
                "(SELECT SUM(balance_after) FROM ledger_entries)::bigint"
            ),
            9,
            "one entry at 6, one at 3"
        );
        assert_eq!(
            count(
                &mut conn,
                "(SELECT SUM(amount * 10 + charges) FROM daily_spend)::bigint"
            ),
            72,
            "one day's row: 7 credits over 2 charges"
        );

        assert!(
            charge_together(
                &mut conn,
                &[
                    new_charge(&covered, &project, 1, "a3"),
                    new_charge(&covered, &project, 1, "a1")
                ]
            )
            .is_err(),
            "a repeated idempotency key undoes the statement"
        );
        assert_eq!(count(&mut conn, "(SELECT COUNT(*) FROM ledger_entries)"), 2);
        assert_eq!(
            count(
                &mut conn,
                "(SELECT COUNT(*) FROM pg_prepared_statements \
                  WHERE statement LIKE 'WITH c AS MATERIALIZED%')"
            ),
            1,
            "one prepared statement served both batches"
        );
    }
}
