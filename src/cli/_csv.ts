/**
 * CSV as spreadsheets write it (RFC 4180): comma-separated, fields with commas, quotes or line
 * breaks in double quotes, `""` for a quote, CRLF or LF, an optional UTF-8 BOM. Each record
 * keeps the line it starts on, for messages about a row.
 *
 * @module
 */
import { RiskGuardError } from "../shared/errors.ts";

/** One record of a CSV file. */
export interface CsvRecord {
  /** 1-based line the record starts on. */
  line: number;
  /** Its fields, unquoted. */
  cells: string[];
}

/**
 * Parses CSV text into records; blank lines are skipped.
 *
 * @throws {RiskGuardError} `INPUT_INVALID` for a quote that is never closed or text after a
 * closing quote, naming the line.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let index = text.startsWith("\uFEFF") ? 1 : 0;
  let line = 1;
  while (index < text.length) {
    const start = line;
    const cells: string[] = [];
    let cell = "";
    let endOfRecord = false;
    while (!endOfRecord) {
      if (text[index] === '"') {
        index++;
        while (true) {
          if (index >= text.length) {
            throw new RiskGuardError(
              "INPUT_INVALID",
              `CSV line ${start}: a quoted field is never closed`,
            );
          }
          const char = text[index]!;
          if (char === '"') {
            if (text[index + 1] === '"') {
              cell += '"';
              index += 2;
              continue;
            }
            index++;
            break;
          }
          if (char === "\n") line++;
          cell += char;
          index++;
        }
        const next = text[index];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          throw new RiskGuardError(
            "INPUT_INVALID",
            `CSV line ${line}: text after a closing quote (quote the whole field)`,
          );
        }
      }
      while (index < text.length && !",\r\n".includes(text[index]!)) cell += text[index++];
      cells.push(cell);
      cell = "";
      if (text[index] === ",") {
        index++;
        continue;
      }
      if (text[index] === "\r") index++;
      if (text[index] === "\n") index++;
      line++;
      endOfRecord = true;
    }
    if (cells.length === 1 && cells[0]!.trim() === "") continue;
    records.push({ line: start, cells });
  }
  return records;
}

/** One CSV field, quoted when it must be. */
function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** CSV text of a header and rows (LF line ends, a final line end). */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}
