import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db';

const FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

/**
 * Applies the versioned SQL files of one system (`NNN_name.sql`) that have not run yet, each in its own
 * transaction, under an advisory lock so concurrent starts of several instances apply each file once.
 */
export async function migrate(db: Db, system: string, dir: string): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS public.schema_migrations (
    system text NOT NULL, version int NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, version))`);
  const files = readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort();
  const applied: number[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 3));
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`migrate:${system}`]);
      const done = await tx.query('SELECT 1 FROM public.schema_migrations WHERE system = $1 AND version = $2', [system, version]);
      if (done.length > 0) return false;
      for (const statement of splitStatements(readFileSync(join(dir, file), 'utf8'))) await tx.query(statement);
      await tx.query('INSERT INTO public.schema_migrations (system, version, name) VALUES ($1, $2, $3)', [system, version, file]);
      return true;
    });
    if (ran) applied.push(version);
  }
  return applied;
}

/** Migration files separate statements with a line holding only `--;;` (no parsing of SQL needed). */
function splitStatements(script: string): string[] {
  return script
    .split(/^--;;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
