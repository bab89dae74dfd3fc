DROP TABLE project_keys;
DROP TABLE projects;
