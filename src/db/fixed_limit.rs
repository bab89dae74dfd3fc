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
//!
//! The one plan is wrong where the best plan depends on a value: a search
//! of members by a fragment. For a rare fragment the trigram indexes find
//! a few users (1.4 ms at 100 000 members); the generic plan, which can't
//! know the fragment, walks the members in order and tests each (107 ms for
//! a fragment eleven users match). PostgreSQL picked that generic plan in
//! some benchmark runs and not in others, by the statistics of the day, and
//! then a search at 64 connections held every pool connection until
//! requests timed out. [`FixedLimit::planned_each_time`] keeps such a
//! statement out of the statement cache: it is sent unnamed, and PostgreSQL
//! plans it for its values on every execution (0.2 ms of planning).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query LIMIT n`, with `n` in the SQL (see the module documentation).
#[derive(Debug, Clone)]
pub struct FixedLimit<Q> {
    query: Q,
    limit: u16,
    planned_each_time: bool,
}

/// Reads at most `limit` rows of `query`, which must not have a limit of
/// its own. A limit beyond `u16` (no page is that long) reads `u16::MAX`.
pub fn fixed_limit<Q>(query: Q, limit: i64) -> FixedLimit<Q> {
    FixedLimit {
        query,
        limit: u16::try_from(limit.max(0)).unwrap_or(u16::MAX),
        planned_each_time: false,
    }
}

impl<Q> FixedLimit<Q> {
    /// The same statement, never cached: planned for its values on every
    /// execution (see the module documentation), for a query whose best
    /// plan depends on them.
    pub fn planned_each_time(self) -> Self {
        Self {
            planned_each_time: true,
            ..self
        }
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
        if self.planned_each_time {
            out.unsafe_to_cache_prepared();
        }
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for FixedLimit<Q> {}

#[cfg(test)]
mod tests {
    use super::fixed_limit;
    use diesel::pg::Pg;
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;

    diesel::table! {
        people (id) {
            id -> Integer,
            name -> Text,
        }
    }

    #[test]
    fn a_page_is_cached_and_a_search_is_planned_each_time() {
        let page = fixed_limit(people::table.select(people::id), 51);
        let sql = diesel::debug_query::<Pg, _>(&page).to_string();
        assert!(sql.contains(" LIMIT 51"), "{sql}");
        assert!(page.is_safe_to_cache_prepared(&Pg).expect("walks"));
        let search = fixed_limit(
            people::table
                .filter(people::name.like("%ann%"))
                .select(people::id),
            51,
        )
        .planned_each_time();
        assert!(!search.is_safe_to_cache_prepared(&Pg).expect("walks"));
    }
}
