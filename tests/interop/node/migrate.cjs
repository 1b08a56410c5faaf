#!/usr/bin/env node
// Runs Drizzle ORM's own node-postgres migrator so migrakit's Python tests can compare against it.
//
// usage: node migrate.cjs <0|1> <migrationsFolder> <connectionString> [migrationsSchema] [migrationsTable]
//
//   0 -> package "drizzle-orm"    (0.45.x, journal folders, decision by newest created_at)
//   1 -> package "drizzle-orm-v1" (npm alias of drizzle-orm 1.0.0-rc.x, folder-per-migration, decision by name)
//
// stdout: exactly one JSON line
//   {"ok": true}
//   {"ok": false, "message": <error message>, "cause": <cause message or null>, "sqlstate": <SQLSTATE or null>}
// exit code: 0 when migrate() ran (whether it succeeded or threw); 2 when the harness itself broke
// (bad arguments, packages not installed, ...), with the reason on stderr and nothing on stdout.
//
// Connection strings are handed to pg as `connectionString`. pg-connection-string understands both TCP
// URLs and the pgserver unix-socket form `postgresql://postgres:@/dbname?host=/path/to/socketdir`
// (the `host` query parameter overrides the empty URL host), so no conversion is needed.
'use strict';

const path = require('node:path');

// Keep stdout for our single JSON line: anything a library might print goes to stderr instead.
const realStdoutWrite = process.stdout.write.bind(process.stdout);
for (const level of ['log', 'info', 'debug', 'warn']) {
  console[level] = (...args) => console.error(...args);
}

function harnessFailure(message) {
  process.stderr.write(`migrate.cjs: ${message}\n`);
  process.exitCode = 2;
}

const PACKAGES = { 0: 'drizzle-orm', 1: 'drizzle-orm-v1' };

function sqlstateOf(err) {
  // Walk the cause chain; the first 5-character SQLSTATE-looking `code` wins (pg's DatabaseError).
  // Node system errors (ECONNREFUSED, ENOENT, ...) are not SQLSTATEs and are ignored.
  const seen = new Set();
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return null;
}

function describe(err) {
  const message = err && err.message !== undefined ? String(err.message) : String(err);
  let cause = null;
  if (err && err.cause !== undefined && err.cause !== null && err.cause !== err) {
    cause = err.cause.message !== undefined ? String(err.cause.message) : String(err.cause);
  }
  return { ok: false, message, cause, sqlstate: sqlstateOf(err) };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 3 || args.length > 5) {
    return harnessFailure(
      'usage: node migrate.cjs <0|1> <migrationsFolder> <connectionString> [migrationsSchema] [migrationsTable]');
  }
  const [major, folder, connectionString, migrationsSchema, migrationsTable] = args;
  const pkg = PACKAGES[major];
  if (!pkg) return harnessFailure(`major must be 0 or 1, got ${JSON.stringify(major)}`);

  let Pool, drizzle, migrate;
  try {
    ({ Pool } = require('pg'));
    ({ drizzle } = require(`${pkg}/node-postgres`));
    ({ migrate } = require(`${pkg}/node-postgres/migrator`));
  } catch (e) {
    return harnessFailure(`cannot load packages (run \`npm ci\` in ${__dirname}): ${e && e.message}`);
  }

  const config = { migrationsFolder: path.resolve(folder) };
  if (migrationsSchema !== undefined && migrationsSchema !== '') config.migrationsSchema = migrationsSchema;
  if (migrationsTable !== undefined && migrationsTable !== '') config.migrationsTable = migrationsTable;

  const pool = new Pool({ connectionString, max: 1 });
  // An idle client losing its connection must not crash the process with an unhandled 'error' event.
  pool.on('error', (e) => process.stderr.write(`migrate.cjs: idle pool client error: ${e && e.message}\n`));

  let result;
  try {
    const db = drizzle({ client: pool }); // object form is accepted by 0.45.x and 1.0.0-rc.x
    await migrate(db, config);
    result = { ok: true };
  } catch (e) {
    result = describe(e);
  }
  try {
    await pool.end();
  } catch (e) {
    process.stderr.write(`migrate.cjs: pool.end failed: ${e && e.message}\n`);
  }
  realStdoutWrite(JSON.stringify(result) + '\n');
}

main().catch((e) => harnessFailure(`unexpected failure: ${(e && e.stack) || e}`));
