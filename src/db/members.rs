//! Members of a workspace: the members table (searchable, paginated by a
//! cursor on the membership id so page 2 000 costs what page 1 does), and
//! the changes to one membership: role, status, removal.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{memberships, roles, users};
use super::stamps::{MaybeStamp, Stamp};
use super::{AnyConnection, DbError, fixed_limit, natively, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{MembershipId, MembershipStatus, RoleId, SystemRole, UserId};

diesel::define_sql_function!(
    /// SQL `lower()`, for case-insensitive search on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// A member with their role, as the member changes check them: the
/// membership and its user, and the role as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
pub struct MemberRow {
    /// The membership and its user.
    #[diesel(embed)]
    pub member: MemberListing,
    /// Their role.
    #[diesel(embed)]
    pub role: RoleRow,
}

/// One row of the members table as the page lists it: a membership and
/// the copy of its user's name, email and last sign-in that it carries
/// (migration 000025), so a page reads one table and not `users` once per
/// row. The role's name and rank come from the roles the `Scope` was read
/// with, so the page doesn't join `roles` once per row either.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = memberships)]
pub struct MemberListing {
    /// Membership.
    #[diesel(column_name = id)]
    pub membership_id: MembershipId,
    /// User.
    pub user_id: UserId,
    /// Name.
    #[diesel(column_name = user_name)]
    pub name: String,
    /// Email.
    #[diesel(column_name = user_email)]
    pub email: String,
    /// Role.
    pub role_id: RoleId,
    /// Whether they may enter.
    pub status: MembershipStatus,
    /// Last sign-in.
    #[diesel(column_name = user_last_login_at, deserialize_as = MaybeStamp)]
    pub last_login_at: Option<NaiveDateTime>,
    /// Joined.
    #[diesel(deserialize_as = Stamp)]
    pub joined_at: NaiveDateTime,
}

/// A members query (with or without `users` joined) as a page: after the
/// cursor, in joining order, [`MemberListing`]'s columns, `limit + 1` rows.
macro_rules! in_joining_order {
    ($query:expr, $after:expr, $limit:expr) => {{
        let mut query = $query.into_boxed();
        if let Some(after) = $after {
            query = query.filter(memberships::id.gt(after));
        }
        fixed_limit(
            query
                .order(memberships::id.asc())
                .select(MemberListing::as_select()),
            $limit + 1,
        )
    }};
}

/// A page of the scoped workspace's members in joining order, after the
/// cursor, optionally filtered by a name or email fragment. Reads
/// `limit + 1` rows so the caller knows whether there is a next page.
pub fn page(
    conn: &mut AnyConnection,
    scope: &Scope,
    search: Option<&str>,
    after: Option<&MembershipId>,
    limit: i64,
) -> Result<Vec<MemberListing>, DbError> {
    let fragment = search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let pattern = fragment.as_ref().map(|f| format!("%{}%", escape_like(f)));
    if let (Some(fragment), Some(pattern), AnyConnection::Sqlite(sqlite)) =
        (&fragment, &pattern, &mut *conn)
        && fragment.chars().count() >= 3
    {
        return indexed_search(sqlite, scope, fragment, pattern, after, limit);
    }
    Ok(natively!(conn, |native| match &pattern {
        // The filter is on `users`, where the search indexes are; which
        // plan is best depends on the fragment.
        Some(pattern) => in_joining_order!(
            scope.memberships().inner_join(users::table).filter(
                lower(users::name)
                    .like(pattern)
                    .escape('\\')
                    .or(users::email.like(pattern).escape('\\')),
            ),
            after,
            limit
        )
        .planned_each_time()
        .load(native),
        None => in_joining_order!(scope.memberships(), after, limit).load(native),
    })?)
}

/// Whether [`page`] with this search may walk many members (a short or
/// rare fragment): such a read is not short (see `Db::read_long_if`).
pub fn search_may_walk(search: Option<&str>) -> bool {
    search.is_some_and(|s| !s.trim().is_empty())
}

/// At most this many candidates are taken from SQLite's search index; a
/// fragment matching more users than that is common enough that walking
/// the members in order finds a page of matches quickly.
const SEARCH_CANDIDATES: i64 = 2_000;

/// A search of three letters or more on SQLite, in one statement. The FTS5
/// trigram index `users_search` (migration 000007) names the users whose
/// name or email may contain `fragment`; it folds case, so its matches are
/// a superset of the `LIKE` filter's, which is still applied and the
/// results are exactly the scan's. Of the two branches exactly one yields
/// rows, chosen by how many users the index matched: up to
/// [`SEARCH_CANDIDATES`], the members are looked up from those users (a
/// rare fragment costs what it finds); more, and the index can't narrow
/// the search, so the members are walked in order until a page of matches
/// is found (a common fragment finds one quickly).
fn indexed_search(
    conn: &mut diesel::SqliteConnection,
    scope: &Scope,
    fragment: &str,
    pattern: &str,
    after: Option<&MembershipId>,
    limit: i64,
) -> Result<Vec<MemberListing>, DbError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    // One FTS5 phrase: the trigram tokenizer turns it into a substring match.
    let phrase = format!("\"{}\"", fragment.replace('"', "\"\""));
    let rows: Vec<ListingByName> = diesel::sql_query(INDEXED_SEARCH)
        .bind::<Text, _>(phrase)
        .bind::<BigInt, _>(SEARCH_CANDIDATES)
        .bind::<Text, _>(scope.workspace_id())
        .bind::<Text, _>(pattern)
        .bind::<Nullable<Text>, _>(after)
        .bind::<BigInt, _>(limit + 1)
        .load(conn)?;
    Ok(rows.into_iter().map(MemberListing::from).collect())
}

/// The statement of [`indexed_search`]. Parameters: ?1 the FTS5 phrase,
/// ?2 [`SEARCH_CANDIDATES`], ?3 the workspace, ?4 the `LIKE` pattern, ?5
/// the cursor (or NULL), ?6 the rows to read. Each branch orders and
/// limits itself, so the walk of a common fragment stops after a page;
/// the walk is switched off by its `LIMIT` (0), which SQLite reads before
/// it starts, and not by a `WHERE` term, which it would test on every
/// member (8 ms for a fragment nobody matches among 100 000).
const INDEXED_SEARCH: &str = "
WITH found AS MATERIALIZED (
    SELECT k.user_id FROM users_search JOIN user_search_keys k ON k.id = users_search.rowid
    WHERE users_search MATCH ?1 LIMIT ?2 + 1
), narrow AS MATERIALIZED (SELECT count(*) <= ?2 AS yes FROM found)
SELECT * FROM (
    SELECT m.id AS membership_id, u.id AS user_id, u.name, u.email, m.role_id, m.status,
           u.last_login_at, m.joined_at
    FROM found f JOIN users u ON u.id = f.user_id
    JOIN memberships m ON m.user_id = u.id AND m.workspace_id = ?3
    WHERE (SELECT yes FROM narrow)
      AND (lower(u.name) LIKE ?4 ESCAPE '\\' OR u.email LIKE ?4 ESCAPE '\\')
      AND (?5 IS NULL OR m.id > ?5)
    ORDER BY m.id LIMIT ?6
)
UNION ALL
SELECT * FROM (
    SELECT m.id AS membership_id, u.id AS user_id, u.name, u.email, m.role_id, m.status,
           u.last_login_at, m.joined_at
    FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE m.workspace_id = ?3
      AND (lower(u.name) LIKE ?4 ESCAPE '\\' OR u.email LIKE ?4 ESCAPE '\\')
      AND (?5 IS NULL OR m.id > ?5)
    ORDER BY m.id LIMIT (SELECT CASE WHEN yes THEN 0 ELSE ?6 END FROM narrow)
)";

/// A row of [`INDEXED_SEARCH`], read by column name.
#[derive(QueryableByName)]
struct ListingByName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    membership_id: MembershipId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: UserId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    role_id: RoleId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: MembershipStatus,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    last_login_at: Option<NaiveDateTime>,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    joined_at: NaiveDateTime,
}

impl From<ListingByName> for MemberListing {
    fn from(row: ListingByName) -> Self {
        MemberListing {
            membership_id: row.membership_id,
            user_id: row.user_id,
            name: row.name,
            email: row.email,
            role_id: row.role_id,
            status: row.status,
            last_login_at: row.last_login_at,
            joined_at: row.joined_at,
        }
    }
}

fn escape_like(fragment: &str) -> String {
    fragment
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One member of the scoped workspace.
pub fn find(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &MembershipId,
) -> Result<MemberRow, DbError> {
    Ok(scope
        .memberships()
        .inner_join(roles::table)
        .filter(memberships::id.eq(id))
        .select(MemberRow::as_select())
        .first(conn)?)
}

/// Whether `email` is a member (active or not) of the scoped workspace.
pub fn is_member(conn: &mut AnyConnection, scope: &Scope, email: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        scope
            .memberships()
            .inner_join(users::table)
            .filter(users::email.eq(email)),
    ))
    .get_result(conn)?)
}

/// Adds a member (an accepted invitation). A second membership of the same
/// user is refused by the unique constraint (`Conflict`).
pub fn add(
    conn: &mut AnyConnection,
    workspace: &Tenant,
    user: &UserId,
    role: &RoleId,
) -> Result<MembershipId, DbError> {
    let id = MembershipId::generate();
    let at = now();
    diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(&id),
            memberships::workspace_id.eq(workspace.workspace_id()),
            memberships::user_id.eq(user),
            memberships::role_id.eq(role),
            memberships::status.eq(MembershipStatus::Active),
            memberships::joined_at.eq(at),
            memberships::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Gives a member of the scoped workspace another role of it, if they
/// still hold `expected` (the role the caller checked); otherwise
/// `NotFound`, so a change decided on a stale role never lands.
pub fn set_role(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &MembershipId,
    expected: &RoleId,
    role: &RoleId,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.memberships())
            .filter(memberships::id.eq(id))
            .filter(memberships::role_id.eq(expected))
            .set((
                memberships::role_id.eq(role),
                memberships::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Activates or deactivates a member of the scoped workspace who still
/// holds `expected` (see [`set_role`]).
pub fn set_status(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &MembershipId,
    expected: &RoleId,
    status: MembershipStatus,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.memberships())
            .filter(memberships::id.eq(id))
            .filter(memberships::role_id.eq(expected))
            .set((
                memberships::status.eq(status),
                memberships::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Removes a member of the scoped workspace who still holds `expected`
/// (see [`set_role`]).
pub fn remove(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &MembershipId,
    expected: &RoleId,
) -> Result<(), DbError> {
    expect_one(
        diesel::delete(
            scope
                .memberships()
                .filter(memberships::id.eq(id))
                .filter(memberships::role_id.eq(expected)),
        )
        .execute(conn)?,
    )
}

/// A role of the scoped workspace.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roles)]
pub struct RoleRow {
    /// Id.
    pub id: RoleId,
    /// Name.
    pub name: String,
    /// Which system role it is; `None` for a custom role.
    pub system_key: Option<SystemRole>,
    /// Rank.
    pub level: i32,
    /// A custom role's permissions.
    pub permissions: String,
}

/// Puts roles in the order every role menu shows: highest rank first, then
/// by name. Done here rather than by each query's `ORDER BY`, so that the
/// roles the session load brings (unordered, see
/// `sessions::load_with_access`) and those read on their own come in one
/// order whatever the database's collation.
pub fn sort_by_rank(roles: &mut [RoleRow]) {
    roles.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.name.cmp(&b.name)));
}

/// The scoped workspace's roles, highest rank first.
pub fn roles(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<RoleRow>, DbError> {
    let mut roles: Vec<RoleRow> = scope.roles().select(RoleRow::as_select()).load(conn)?;
    sort_by_rank(&mut roles);
    Ok(roles)
}

/// The role the acting user holds in the scoped workspace as stored right
/// now, if their membership is still active. Member changes read it inside
/// their transaction instead of trusting the rank seen when the request
/// began, which a concurrent change may have moved.
pub fn acting_role(conn: &mut AnyConnection, scope: &Scope) -> Result<Option<RoleRow>, DbError> {
    Ok(scope
        .memberships()
        .inner_join(roles::table)
        .filter(memberships::user_id.eq(scope.user_id()))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?)
}

/// The roles that these users hold as active members of the scoped
/// workspace (users who aren't active members are absent).
pub fn active_roles_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    users: &[UserId],
) -> Result<Vec<(UserId, RoleRow)>, DbError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    Ok(scope
        .memberships()
        .inner_join(roles::table)
        .filter(memberships::user_id.eq_any(users))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .select((memberships::user_id, RoleRow::as_select()))
        .load(conn)?)
}
