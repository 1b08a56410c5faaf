#!/usr/bin/env node
// Runs Drizzle ORM's own node-postgres migrator so migrakit's Python tests can compare against it.
//
// usage: node migrate.cjs <0|1> <migrationsFolder> <connectionString> [migrationsSchema] [migrationsTable]
//        node migrate.cjs --batch      (one JSON job a line on stdin: {"major", "folder", "url", "schema"?, "table"?};
//                                       one result line per job on stdout, in order; jobs run one after another)
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

function load(major) {
  const pkg = PACKAGES[major];
  if (!pkg) throw new Error(`major must be 0 or 1, got ${JSON.stringify(major)}`);
  try {
    return {
      Pool: require('pg').Pool,
      drizzle: require(`${pkg}/node-postgres`).drizzle,
      migrate: require(`${pkg}/node-postgres/migrator`).migrate,
    };
  } catch (e) {
    throw new Error(`cannot load packages (run \`npm ci\` in ${__dirname}): ${e && e.message}`);
  }
}

// One migrate() on its own pool (max 1 client), as a standalone run would do it. An idle client losing its
// connection must not crash the process with an unhandled 'error' event.
async function runOne({ Pool, drizzle, migrate }, folder, connectionString, migrationsSchema, migrationsTable) {
  const config = { migrationsFolder: path.resolve(folder) };
  if (migrationsSchema !== undefined && migrationsSchema !== null && migrationsSchema !== '') config.migrationsSchema = migrationsSchema;
  if (migrationsTable !== undefined && migrationsTable !== null && migrationsTable !== '') config.migrationsTable = migrationsTable;
  const pool = new Pool({ connectionString, max: 1 });
  pool.on('error', (e) => process.stderr.write(`migrate.cjs: idle pool client error: ${e && e.message}\n`));
  // A checked-out client whose connection dies (a migration that ends its own backend) emits 'error'; unhandled,
  // that crashes node, as it would crash a bare deploy script: non-zero either way. Handled here, the query's
  // own rejection reaches migrate()'s caller instead and the batch goes on; the database is left the same.
  pool.on('connect', (client) => client.on('error', (e) => process.stderr.write(`migrate.cjs: client error: ${e && e.message}\n`)));
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
  return result;
}

async function batch() {
  let input = '';
  for await (const part of process.stdin) input += part;
  const loaded = {};
  for (const line of input.split('\n')) {
    if (!line.trim()) continue;
    const job = JSON.parse(line);
    loaded[job.major] ??= load(String(job.major));
    const result = await runOne(loaded[job.major], job.folder, job.url, job.schema, job.table);
    realStdoutWrite(JSON.stringify(result) + '\n');
  }
}

async function main() {
  if (process.argv[2] === '--batch') {
    try {
      return await batch();
    } catch (e) {
      return harnessFailure(`batch failed: ${(e && e.stack) || e}`);
    }
  }
  const args = process.argv.slice(2);
  if (args.length < 3 || args.length > 5) {
    return harnessFailure(
      'usage: node migrate.cjs <0|1> <migrationsFolder> <connectionString> [migrationsSchema] [migrationsTable]');
  }
  const [major, folder, connectionString, migrationsSchema, migrationsTable] = args;
  let loaded;
  try {
    loaded = load(major);
  } catch (e) {
    return harnessFailure(e.message);
  }
  const result = await runOne(loaded, folder, connectionString, migrationsSchema, migrationsTable);
  realStdoutWrite(JSON.stringify(result) + '\n');
}

main().catch((e) => harnessFailure(`unexpected failure: ${(e && e.stack) || e}`));
