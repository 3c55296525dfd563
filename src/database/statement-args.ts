/**
 * A statement's arguments, collected while its text is built: `add` keeps the value and answers
 * the SQL that reads it back with its type. Two ways to pass them: as the usual positional
 * parameters (`$3::uuid`), or all in one `text[]` parameter (`($1)[3]::uuid`), for a statement
 * that `Sql.underSessionLock` runs after taking the session's row lock. A builder written
 * against `StatementArgs` serves both, and every argument says its type, so the text reads the
 * same either way.
 */
export interface StatementArgs {
  add(value: string | number | boolean | Date | null, type: string): string;
}

export class PositionalArgs implements StatementArgs {
  readonly values: unknown[] = [];

  add(value: string | number | boolean | Date | null, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

export class ArrayArgs implements StatementArgs {
  readonly values: (string | null)[] = [];

  add(value: string | number | boolean | Date | null, type: string): string {
    this.values.push(
      value === null ? null : value instanceof Date ? value.toISOString() : String(value),
    );
    return `($1)[${this.values.length}]::${type}`;
  }
}

/** A constant of the code (a status, a cause) as an SQL literal, written into a statement's text. */
export const sqlLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** A list of such constants as a text[] literal. */
export const sqlLiteralArray = (texts: readonly string[]) =>
  `ARRAY[${texts.map(sqlLiteral).join(', ')}]::text[]`;
