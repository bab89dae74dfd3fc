DROP INDEX workspaces_team_name_key;
