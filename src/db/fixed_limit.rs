//! A row limit written into a statement's SQL instead of bound as a
//! parameter.
//!
//! PostgreSQL plans a prepared statement generically (once per connection)
//! only when the generic plan looks no worse than the ones planned for each
//! execution's values. With the `LIMIT` bound, the generic plan can't know
//! that a page reads 51 rows, assumes a tenth of the table and looks far
//! worse, so every execution of the members page was planned again (0.4 ms
//! of PostgreSQL's time per view at 100 000 members, more than running it).
//! With the limit in the SQL, the generic plan is the one each execution
//! would get, and PostgreSQL keeps it. Each distinct limit is its own
//! cached statement, so this is for limits from a small set (page sizes).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query LIMIT n`, with `n` in the SQL (see the module documentation).
#[derive(Debug, Clone)]
pub struct FixedLimit<Q> {
    query: Q,
    limit: u16,
}

/// Reads at most `limit` rows of `query`, which must not have a limit of
/// its own. A limit beyond `u16` (no page is that long) reads `u16::MAX`.
pub fn fixed_limit<Q>(query: Q, limit: i64) -> FixedLimit<Q> {
    FixedLimit {
        query,
        limit: u16::try_from(limit.max(0)).unwrap_or(u16::MAX),
    }
}

impl<Q> QueryId for FixedLimit<Q> {
    // The SQL depends on the limit, so the statement cache keys it by its
    // SQL text rather than by type.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for FixedLimit<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, DB> QueryFragment<DB> for FixedLimit<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for FixedLimit<Q> {}
