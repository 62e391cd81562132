-- The read-only role for the AI's read tools (a PostgreSQL MCP server): it may connect, read the
-- tables of one schema and the statistics views, and nothing else. (Whether PUBLIC may connect to
-- the database or create in the schema is the site's own policy; this script does not change it.)
-- Run as a superuser:
--
--   psql -d app -v db=app -v schema=public -v owner=app_owner -v password=... -f mcp-readonly-role.sql
\set ON_ERROR_STOP on
CREATE ROLE mcp_readonly LOGIN PASSWORD :'password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5;
-- Every transaction starts read-only; even if a session turned that off, it holds no write grant.
ALTER ROLE mcp_readonly SET default_transaction_read_only = on;
ALTER ROLE mcp_readonly SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"db" TO mcp_readonly;
GRANT USAGE ON SCHEMA :"schema" TO mcp_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO mcp_readonly;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"schema" GRANT SELECT ON TABLES TO mcp_readonly;
GRANT pg_read_all_stats TO mcp_readonly;
