-- Costs that must not grow with an organization's size.
--
-- 1. workspaces.member_count: the active members, kept in step by triggers
--    on memberships, so every change (the app's, an operator's, a bulk
--    load's) updates it in its own transaction. The dashboard and the
--    organization cards read it instead of counting.
-- 2. users_search: an FTS5 trigram index of users' names and emails, kept in
--    step by triggers on users. Member search asks it for candidates and
--    then applies the same LIKE filter as before, so results don't change.
--    Its rowids come from user_search_keys (an INTEGER PRIMARY KEY, which
--    VACUUM keeps), not from users' implicit rowids (which VACUUM may renumber).

ALTER TABLE workspaces ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET member_count = (
    SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = workspaces.id AND m.status = 'active'
);

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
WHEN new.status = 'active'
BEGIN
    UPDATE workspaces SET member_count = member_count + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
WHEN old.status = 'active'
BEGIN
    UPDATE workspaces SET member_count = member_count - 1 WHERE id = old.workspace_id;
END;

CREATE TRIGGER memberships_count_update AFTER UPDATE OF status, workspace_id ON memberships
WHEN (old.status = 'active') <> (new.status = 'active') OR old.workspace_id <> new.workspace_id
BEGIN
    UPDATE workspaces SET member_count = member_count - 1
        WHERE id = old.workspace_id AND old.status = 'active';
    UPDATE workspaces SET member_count = member_count + 1
        WHERE id = new.workspace_id AND new.status = 'active';
END;

CREATE TABLE user_search_keys (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE users_search USING fts5 (name, email, tokenize = 'trigram');

INSERT INTO user_search_keys (user_id) SELECT id FROM users;
INSERT INTO users_search (rowid, name, email)
    SELECT k.id, u.name, u.email FROM users u JOIN user_search_keys k ON k.user_id = u.id;

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
    INSERT INTO user_search_keys (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, name, email)
        SELECT k.id, new.name, new.email FROM user_search_keys k WHERE k.user_id = new.id;
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF name, email ON users
BEGIN
    UPDATE users_search SET name = new.name, email = new.email
        WHERE rowid = (SELECT k.id FROM user_search_keys k WHERE k.user_id = new.id);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
    DELETE FROM users_search
        WHERE rowid = (SELECT k.id FROM user_search_keys k WHERE k.user_id = old.id);
    DELETE FROM user_search_keys WHERE user_id = old.id;
END;
