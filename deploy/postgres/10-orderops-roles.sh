#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d).
# POSTGRES_USER (orderops_owner) owns the database and runs the migrations; the API and
# workers log in as orderops_web, a member of the app role, under row-level security
# (docs/DEPLOYMENT.md, "Database roles and row-level security").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE orderops_app NOLOGIN;
CREATE ROLE orderops_web LOGIN PASSWORD '${ORDEROPS_APP_PASSWORD}'
  NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE orderops_app;
SQL
