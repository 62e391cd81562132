-- The role the ku agent connects as, for the pg.* operations. Run as a superuser in the target
-- database, naming the role that owns the tables ku may index:
--
--   psql -d app -v owner=app_owner -v password="$(cat /etc/ku/pg-app.secret)" -f ku-agent-role.sql
--
-- What it gets, and why:
--   * membership in the owner role: PostgreSQL lets only a table's owner CREATE INDEX, DROP INDEX
--     and COMMENT ON INDEX (there is no narrower privilege for index DDL). So the role can build
--     indexes exactly on the tables that role owns, and nowhere else. The agent itself only ever
--     sends CREATE/DROP INDEX CONCURRENTLY, COMMENT ON INDEX and read-only statements, on tables of
--     its allowlist; give ku an owner role per schema if you want the database to narrow it further.
--   * pg_read_all_stats: every row of pg_stat_statements, pg_stat_activity and
--     pg_stat_progress_create_index (top-queries, builds, verify-index).
--   * nothing else: no superuser, no CREATEDB/CREATEROLE, no pg_signal_backend (it can cancel only
--     its own builds), a connection limit.
\set ON_ERROR_STOP on
CREATE ROLE ku_agent LOGIN PASSWORD :'password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 10;
GRANT :"owner" TO ku_agent;
GRANT pg_read_all_stats TO ku_agent;
-- advise needs hypopg, top-queries needs pg_stat_statements (preloaded in postgresql.conf):
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS hypopg;
