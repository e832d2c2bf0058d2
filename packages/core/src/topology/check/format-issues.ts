/**
 * Printing topology issues the way compilers do: position, path and message, then the offending line
 * with a caret under the column.
 *
 * @module
 */
import { isAbsolute, relative } from 'node:path';
import type { TopologyIssue } from '../../errors.js';

/** Options of {@link formatIssue}. */
export interface FormatOptions {
  /**
   * Paths under this directory are printed relative to it (shorter, and still clickable in terminals
   * and editors). @defaultValue `process.cwd()`
   */
  readonly cwd?: string;
}

/**
 * One issue as text:
 *
 * ```text
 * topology.yaml:7:18  /queues/0/maxPriority  must be at most 255, got 300
 *     7 |     maxPriority: 300
 *       |                  ^
 * ```
 *
 * Without a position only `path  message` (prefixed by the file when known) is printed. Warnings are
 * marked `warning:`; errors are not marked, being the norm.
 */
export function formatIssue(issue: TopologyIssue, options: FormatOptions = {}): string {
  const where = [
    issue.file === undefined ? undefined : displayPath(issue.file, options.cwd ?? process.cwd()),
    issue.line,
    issue.line === undefined ? undefined : issue.column,
  ]
    .filter((part) => part !== undefined)
    .join(':');
  const message = issue.severity === 'warning' ? `warning: ${issue.message}` : issue.message;
  const head = [where, issue.path || '/', message].filter((part) => part !== '').join('  ');
  if (issue.sourceLine === undefined || issue.line === undefined) return head;
  const gutter = String(issue.line).padStart(5);
  // Copy tabs from the source so the caret lines up however wide the terminal draws them.
  const column = Math.max((issue.column ?? 1) - 1, 0);
  const lead = [...issue.sourceLine.slice(0, column).padEnd(column)].map((c) => (c === '\t' ? '\t' : ' ')).join('');
  return `${head}\n${gutter} | ${issue.sourceLine}\n${' '.repeat(gutter.length)} | ${lead}^`;
}

/** Every issue, formatted with {@link formatIssue}, one after the other. */
export function formatIssues(issues: readonly TopologyIssue[], options: FormatOptions = {}): string {
  return issues.map((issue) => formatIssue(issue, options)).join('\n');
}

function displayPath(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
