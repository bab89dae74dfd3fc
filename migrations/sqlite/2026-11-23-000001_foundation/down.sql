DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE memberships;
DROP TABLE roles;
DROP TABLE workspaces;
DROP TABLE users;
