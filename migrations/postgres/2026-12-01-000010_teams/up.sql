-- Teams: workspaces of kind 'team' inside an organization (parent_id). A
-- team's name is unique within its organization, whatever its case; the
-- index also finds an organization's teams.
CREATE UNIQUE INDEX workspaces_team_name_key ON workspaces (parent_id, lower(name));
