-- The members page reads its rows from an index alone (SQLite only).
--
-- A page of 50 members is a range of (workspace_id, id); with only the
-- unique index on those two columns, SQLite then finds each of the 51
-- rows in the table by its rowid, a second search per row. This index
-- holds every column the page shows, so the range is all it reads:
-- about 1 000 instructions less per row (callgrind, 5 000 members). It
-- costs one more index entry to write when a membership, or the copy of
-- its user's name, email or last sign-in, changes: rare against views.
-- PostgreSQL reads the page's 51 rows from a few heap pages already
-- (members who joined one after another sit side by side), so it has no
-- such index.
CREATE INDEX memberships_listing_idx ON memberships (
    workspace_id, id, user_id, user_name, user_email, role_id, status, user_last_login_at, joined_at
);
