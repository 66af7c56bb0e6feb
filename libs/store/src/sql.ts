// Where-clauses are SQL text (LanceDB's DataFusion dialect) with values that come from users:
// every literal goes through sqlString, never string concatenation.

/**
 * A SQL string literal. Doubling single quotes is the only escape the dialect needs: backslashes
 * are literal inside '...' (verified against LanceDB 0.39).
 */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Equality on a fixed, trusted column name. */
export function sqlEquals(column: string, value: string): string {
  return `${column} = ${sqlString(value)}`;
}

/** Conjunction of the given predicates, skipping absent ones. */
export function sqlAnd(...predicates: (string | undefined)[]): string {
  return predicates
    .filter((p): p is string => p !== undefined)
    .map((p) => `(${p})`)
    .join(' AND ');
}

/** Rows of one tenant, optionally one collection and one document: the scope of every query. */
export function scopeWhere(tenant: string, collection?: string, documentId?: string): string {
  return sqlAnd(
    sqlEquals('tenant', tenant),
    collection === undefined ? undefined : sqlEquals('collection', collection),
    documentId === undefined ? undefined : sqlEquals('document_id', documentId),
  );
}
