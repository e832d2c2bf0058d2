/**
 * Loading topology files: YAML/JSON (with source positions, `include` and `${VAR}` interpolation) or a
 * TypeScript/JavaScript module. Loading does not validate; pass the result to `validateSchema` and the
 * semantic checks. User mistakes come back as {@link TopologyIssue}s, never as exceptions.
 *
 * @module
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { dirname, extname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TopologyIssue } from '../../errors.js';
import type { TopologyDocument } from '../document.js';
import { mergeParts } from './load-merge.js';
import { parseYamlPart, type TopologyPart } from './load-yaml.js';
import type { LocateOptions, SourceLocation } from './locate.js';

export type { LocateOptions, SourceLocation } from './locate.js';

/** Options of {@link loadTopology}. */
export interface LoadOptions {
  /** Variables for `${VAR}` interpolation. @defaultValue `process.env` */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a YAML/JSON file as UTF-8 text. @defaultValue `fs.promises.readFile` */
  readonly readFile?: (path: string) => Promise<string>;
  /**
   * Imports a TS/JS topology module by file URL. @defaultValue dynamic `import()`
   * Exists for tests and for hosts with their own module loader.
   */
  readonly importModule?: (url: string) => Promise<unknown>;
}

/** A loaded (not yet validated) document plus where each value came from. */
export interface LoadedTopology {
  /**
   * The document with its includes merged in: lists concatenated in include order with this file's
   * entries last; `priorityClasses` and `defaults` merged key by key with the including file winning.
   */
  readonly document: TopologyDocument;
  /** Absolute paths of the files read, the root first (each file once, even if included twice). */
  readonly files: readonly string[];
  /**
   * Source location of a JSON pointer into `document` (after merging), for error messages; undefined
   * when unknown (TS modules, documents built in code). Pointers past the end of the document locate
   * their closest existing ancestor.
   */
  locate(pointer: string, options?: LocateOptions): SourceLocation | undefined;
}

/** What {@link loadTopology} and {@link parseTopologyText} return. */
export interface LoadResult {
  /**
   * Present whenever the files could be parsed, even when `issues` holds errors (an unset variable, a
   * duplicate key), so that schema validation can report more problems in the same run. Never use it
   * when `issues` contains an error.
   */
  readonly topology?: LoadedTopology;
  readonly issues: readonly TopologyIssue[];
}

const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);

/**
 * Loads a topology file (`.yaml`, `.yml`, `.json`, or a `.ts`/`.mts`/`.js`/`.mjs` module whose default
 * export, or `topology` export, is the document), resolving `include` recursively relative to each
 * including file. A file included more than once is merged once; an include cycle is an issue naming
 * the chain. YAML string values are interpolated (`${VAR}`, `${VAR:-default}`, `$${` for a literal);
 * modules are not (they can read `process.env` themselves).
 *
 * A `.ts` module needs a TypeScript loader in the running process (tsx); without one the import fails
 * and the issue says so.
 */
export async function loadTopology(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? ((p: string) => fsReadFile(p, 'utf8'));
  const importModule = options.importModule ?? ((url: string) => import(/* @vite-ignore */ url));
  const root = resolve(path);
  const issues: TopologyIssue[] = [];
  const files: string[] = [];
  const display = (file: string): string => relative(dirname(root), file) || file;

  /** Loads `file` and what it includes; `from` is the include entry that named it. */
  async function load(
    file: string,
    chain: readonly string[],
    from?: { readonly part: TopologyPart; readonly pointer: string },
  ): Promise<TopologyPart | undefined> {
    // Problems with the file itself are reported at the include entry that named it.
    const report = (message: string, keyword: string): undefined => {
      issues.push({
        path: from?.pointer ?? '',
        message,
        keyword,
        severity: 'error',
        ...from?.part.locate(from.pointer),
      });
      return undefined;
    };
    if (chain.includes(file)) {
      return report(
        `include cycle: ${[...chain.slice(chain.indexOf(file)), file].map(display).join(' → ')}`,
        'include-cycle',
      );
    }
    // Included a second time through another file (a shared base): its entries are already merged.
    if (files.includes(file)) return undefined;
    files.push(file);
    const ext = extname(file).toLowerCase();
    let part: TopologyPart | undefined;
    if (MODULE_EXTENSIONS.has(ext)) {
      part = await loadModule(file, importModule, (message) => report(message, 'module'));
    } else if (YAML_EXTENSIONS.has(ext)) {
      let text: string;
      try {
        text = await readFile(file);
      } catch (err) {
        return report(readFailure(display(file), err), 'file');
      }
      const parsed = parseYamlPart(text, file, env);
      issues.push(...parsed.issues);
      part = parsed.part;
    } else {
      report(
        `unsupported topology file type '${ext || '(none)'}' for ${file}: use .yaml, .yml, .json, .ts, .mts, .js or .mjs`,
        'file',
      );
    }
    if (part === undefined) return undefined;
    const included: TopologyPart[] = [];
    const list = part.value.include;
    if (Array.isArray(list)) {
      for (const [index, entry] of list.entries()) {
        // Non-string entries are reported by the schema, with their position.
        if (typeof entry !== 'string' || entry === '') continue;
        const child = await load(resolve(dirname(file), entry), [...chain, file], {
          part,
          pointer: `/include/${index}`,
        });
        if (child) included.push(child);
      }
    }
    return mergeParts([...included, part], issues);
  }

  const part = await load(root, []);
  if (part === undefined) return { issues };
  return { topology: { document: part.value as TopologyDocument, files, locate: part.locate }, issues };
}

/**
 * Parses a YAML or JSON topology from a string (for tests and stdin); `file` names it in issues.
 * Includes are not resolved: there is no directory to resolve them against, so an `include` is an issue.
 */
export function parseTopologyText(
  text: string,
  file: string,
  options: { readonly env?: Readonly<Record<string, string | undefined>> } = {},
): LoadResult {
  const { part, issues } = parseYamlPart(text, file, options.env ?? process.env);
  if (part === undefined) return { issues };
  const include = part.value.include;
  if (Array.isArray(include) && include.length > 0) {
    issues.push({
      path: '/include',
      message: 'includes need a file path: load the topology from a file (loadTopology) to resolve them',
      keyword: 'include',
      severity: 'error',
      ...part.locate('/include', { key: true }),
    });
  }
  return { topology: { document: part.value as TopologyDocument, files: [file], locate: part.locate }, issues };
}

/**
 * Wraps a document built in code (e.g. with `defineTopology`) so it can be validated like a loaded
 * one. Issues carry no positions; `file`, if given, is listed in {@link LoadedTopology.files}.
 */
export function topologyFromDocument(document: TopologyDocument, file?: string): LoadedTopology {
  return { document, files: file === undefined ? [] : [file], locate: () => undefined };
}

async function loadModule(
  file: string,
  importModule: (url: string) => Promise<unknown>,
  fail: (message: string) => undefined,
): Promise<TopologyPart | undefined> {
  let ns: unknown;
  try {
    ns = await importModule(pathToFileURL(file).href);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      return fail(
        `cannot import ${file}: this Node process has no TypeScript loader; run it through tsx (e.g. 'tsx script.ts' or 'node --import tsx …'), or write the topology in YAML`,
      );
    }
    // The module itself missing, as opposed to something it imports.
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${file}'`)) {
      return fail(`topology module not found: ${file}`);
    }
    return fail(`cannot import topology module ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const exports = (ns ?? {}) as { readonly default?: unknown; readonly topology?: unknown };
  const value = exports.default ?? exports.topology;
  if (value === undefined) {
    return fail(`topology module ${file} has neither a default export nor a 'topology' export`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(
      `the topology exported by ${file} must be an object (use defineTopology({...})), got ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  return { value: value as Record<string, unknown>, locate: () => undefined };
}

function readFailure(file: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return `file not found: ${file}`;
  if (code === 'EISDIR') return `expected a file, found a directory: ${file}`;
  if (code === 'EACCES') return `permission denied reading ${file}`;
  return `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`;
}
