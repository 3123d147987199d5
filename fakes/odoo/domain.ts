/**
 * Odoo search domains, evaluated the way the ORM does for the operators our adapter and tests use: a list in
 * prefix (Polish) notation where '&' (the default between terms), '|' and '!' combine `[field, operator, value]`
 * leaves.
 */
export type OdooValue = string | number | boolean | null | OdooValue[] | { [key: string]: OdooValue };
export type OdooRow = Record<string, OdooValue>;
type Leaf = [string, string, OdooValue];
export type Domain = (string | Leaf)[];

export class DomainError extends Error {}

export function matchesDomain(row: OdooRow, domain: Domain): boolean {
  if (domain.length === 0) return true;
  // Terms not joined by an operator are ANDed: prepend the implicit '&'s, then evaluate the prefix expression.
  const leaves = domain.filter((t) => typeof t !== 'string').length;
  const joiners = domain.filter((t) => t === '&' || t === '|').length;
  const expr: Domain = [...Array.from({ length: Math.max(0, leaves - 1 - joiners) }, () => '&'), ...domain];
  let i = 0;
  const next = (): boolean => {
    const term = expr[i++];
    if (term === undefined) throw new DomainError('malformed domain');
    if (term === '&') return [next(), next()].every(Boolean);
    if (term === '|') return [next(), next()].some(Boolean);
    if (term === '!') return !next();
    if (typeof term === 'string') throw new DomainError(`unknown domain operator ${term}`);
    return leaf(row, term);
  };
  return next();
}

function leaf(row: OdooRow, [field, operator, value]: Leaf): boolean {
  if (!(field in row) && field !== 'id') throw new DomainError(`Invalid field ${field} in leaf`);
  const raw = row[field] ?? false;
  // A many2one compares by its id.
  const actual = Array.isArray(raw) && raw.length === 2 && typeof raw[0] === 'number' ? raw[0] : raw;
  switch (operator) {
    case '=': return actual === value || (value === false && (actual === false || actual === null));
    case '!=': return !(actual === value || (value === false && (actual === false || actual === null)));
    case '>': return actual !== false && compare(actual, value) > 0;
    case '>=': return actual !== false && compare(actual, value) >= 0;
    case '<': return actual !== false && compare(actual, value) < 0;
    case '<=': return actual !== false && compare(actual, value) <= 0;
    case 'in': return Array.isArray(value) && value.some((v) => v === actual || (Array.isArray(actual) && actual.includes(v)));
    case 'not in': return Array.isArray(value) && !value.some((v) => v === actual);
    case 'ilike': return typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase());
    default: throw new DomainError(`unsupported operator ${operator}`);
  }
}

function compare(a: OdooValue, b: OdooValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Sorts by an Odoo `order` clause such as "write_date asc, id asc". */
export function sortRows(rows: OdooRow[], order: string | undefined): OdooRow[] {
  const keys = (order ?? 'id asc').split(',').map((part) => {
    const [field = 'id', dir = 'asc'] = part.trim().split(/\s+/);
    return { field, sign: dir.toLowerCase() === 'desc' ? -1 : 1 };
  });
  return [...rows].sort((x, y) => {
    for (const { field, sign } of keys) {
      const c = compare(x[field] ?? false, y[field] ?? false);
      if (c !== 0) return c * sign;
    }
    return 0;
  });
}
