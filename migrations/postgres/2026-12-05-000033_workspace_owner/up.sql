-- workspaces.owner_user_id: who holds the workspace's owner role, kept in
-- step by triggers in the transaction of the change. The organizations
-- page reads each card's owner through it, by primary key. Joining the
-- owner through memberships.role_id left the plan to the statistics: in an
-- organization of 100 000 members, ANALYZE's sample rarely holds the
-- owner's one membership, so the planner expected hundreds of rows per role
-- and hashed a scan of every membership (17-23 ms a view).
ALTER TABLE workspaces ADD COLUMN owner_user_id TEXT;
UPDATE workspaces SET owner_user_id = (
    SELECT m.user_id FROM memberships m JOIN roles r ON r.id = m.role_id
    WHERE r.workspace_id = workspaces.id AND r.system_key = 'owner'
    LIMIT 1);

-- A membership that now holds its workspace's owner role (a new
-- workspace's creator, an ownership handed over) names the owner. The row
-- is written only when the owner changes, so other membership changes
-- don't touch the workspace row. (Transition tables can't go with a column
-- list, so an update of any column looks.)
CREATE FUNCTION memberships_owner_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces w SET owner_user_id = n.user_id
    FROM new_rows n JOIN roles r ON r.id = n.role_id AND r.system_key = 'owner'
    WHERE w.id = n.workspace_id AND w.owner_user_id IS DISTINCT FROM n.user_id;
    RETURN NULL;
END $$;

CREATE TRIGGER memberships_owner_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_owner_named();
CREATE TRIGGER memberships_owner_update AFTER UPDATE ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_owner_named();

-- The owner's membership gone (its workspace deleted with it, or its
-- user's account): no owner to show.
CREATE FUNCTION memberships_owner_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces w SET owner_user_id = NULL
    FROM old_rows o
    WHERE w.id = o.workspace_id AND w.owner_user_id = o.user_id;
    RETURN NULL;
END $$;

CREATE TRIGGER memberships_owner_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_owner_gone();
