// A reader with Go encoding/csv's semantics (kube-apiserver reads its token and password files with it):
// RFC 4180 quoting, "" escapes a quote, quoted fields may span lines, a bare quote inside an unquoted field is an
// error, blank lines are skipped, nothing is trimmed, no comment syntax, variable field counts. Each record keeps
// the line it started on so errors can name it.
export interface CsvRecord { line: number; fields: string[] }
export class CsvSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, message: string) { super(message); this.line = line; }
}

export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    // Blank line (Go skips empty lines entirely).
    if (text[i] === '\n') { i++; line++; continue; }
    if (text[i] === '\r' && text[i + 1] === '\n') { i += 2; line++; continue; }
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new CsvSyntaxError(startLine, 'extraneous or missing " in quoted-field (unterminated quote)');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === '\r' && text[i + 1] === '\n') { field += '\n'; i += 2; line++; continue; }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const after = text[i];
        if (i < n && after !== ',' && after !== '\n' && !(after === '\r' && text[i + 1] === '\n')) {
          throw new CsvSyntaxError(line, 'extraneous or missing " in quoted-field');
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new CsvSyntaxError(line, 'bare " in non-quoted-field');
          i++;
        }
        field = text.slice(start, i);
      }
      fields.push(field);
      if (text[i] === ',') { i++; continue; }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') { i++; line++; }
    records.push({ line: startLine, fields });
  }
  return records;
}

/** Quote a field only when Go's csv.Writer would (comma, quote, CR/LF, leading space), so written files read back identically. */
export function formatCsvField(s: string): string {
  if (s === '' || !/[",\r\n]/.test(s) && !s.startsWith(' ')) return s;
  return `"${s.replace(/"/g, '""')}"`;
}
