// Works around a MikroORM 6.6.16 bug: when it reads a SQLite table back, an enum CHECK constraint with more
// than two values loses its middle values (mikro-orm/mikro-orm#8139, fixed for 6.6.17). Only schema
// introspection is affected (schema diffs, migration generation), never reads or writes; without this fix
// the "entities and migrations agree" check always reports a table rebuild for every 3+ value enum.
import { Utils, type Dictionary } from '@mikro-orm/core';
import { BaseSqliteSchemaHelper } from '@mikro-orm/better-sqlite';

type Execute = (sql: string, params: unknown[], method: 'get', ctx?: unknown) => Promise<{ sql: string }>;

let applied = false;

function isAffectedVersion(version: string): boolean {
  const [major, minor, patch] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major === 6 && (minor < 6 || (minor === 6 && patch < 17));
}

/** Parses `'a', 'b', 'it''s'` into its values, commas and doubled quotes inside values included. */
export function parseSqliteEnumItems(list: string): string[] {
  return [...list.matchAll(/'((?:[^']|'')*)'/g)].map((match) => match[1].replace(/''/g, "'"));
}

export function applySqliteEnumIntrospectionFix(): void {
  if (applied || !isAffectedVersion(Utils.getORMVersion())) {
    return;
  }
  applied = true;
  // Same lookup as the original, only the splitting of the value list differs.
  BaseSqliteSchemaHelper.prototype.getEnumDefinitions = async function getEnumDefinitions(
    connection: { execute: Execute },
    _checks: unknown,
    tableName: string,
    _schemaName?: string,
    ctx?: unknown,
  ): Promise<Dictionary<string[]>> {
    const sql = `select sql from sqlite_master where type = ? and name = ?`;
    const table = await connection.execute(sql, ['table', tableName], 'get', ctx);
    const constraints = table.sql.match(/[`["'][^`\]"']+[`\]"'] text check \(.*?\)/gi) ?? [];
    const enums: Dictionary<string[]> = {};
    for (const constraint of constraints) {
      const match = /[`["']([^`\]"']+)[`\]"'] text check \(.* \((.*)\)/i.exec(constraint);
      if (match) {
        enums[match[1]] = parseSqliteEnumItems(match[2]);
      }
    }
    return enums;
  } as unknown as BaseSqliteSchemaHelper['getEnumDefinitions'];
}
