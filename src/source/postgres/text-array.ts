/** Text arrays written into SQL, for statements that take no parameters (`COPY (query)`). */

/** `'{"a","b"}'`: a text array literal (PostgreSQL's array syntax, then quoted as a string literal). */
export function textArrayLiteral(values: readonly string[]): string {
  const array = `{${values.map((v) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
  return `'${array.replace(/'/g, "''")}'`;
}
