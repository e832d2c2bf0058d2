import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Keeps core's layering as the design states it ("Packages and the direction of dependencies"): inside core,
 * from the ground up, errors → serialization, model → transport SPI → virtual transport and messaging →
 * topology → tasks/worker. An import only ever goes down (or stays in its layer), and no two files import each
 * other, even through a chain and even for types only.
 */

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Layer rank by the first path segment under src/ (a bare file is keyed by its own name). */
const LAYERS: Readonly<Record<string, number>> = {
  // The ground: the error hierarchy (errors.ts and its families under errors/) imports nothing else; small
  // helpers may throw its errors.
  'errors.ts': 0,
  errors: 0,
  internal: 1,
  serialization: 2,
  model: 2,
  transport: 3,
  virtual: 4,
  messaging: 4,
  topology: 5,
  tasks: 6,
  // Celery interop: a peer of tasks (its own protocol, client and worker over messaging).
  celery: 6,
  'index.ts': 7,
  'spi.ts': 7,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path).split(sep).join('/')] : [];
  });
}

function layerOf(file: string): number {
  const rank = LAYERS[file.split('/')[0] as string];
  if (rank === undefined) throw new Error(`${file} is in no layer; add its folder to LAYERS`);
  return rank;
}

interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

/** Every static `import … from`, `import '…'` and `export … from` of a relative module, type-only included. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.importClause?.isTypeOnly ?? false;
    } else if (ts.isExportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.isTypeOnly;
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    const target = posix.normalize(posix.join(posix.dirname(file), specifier.text)).replace(/\.js$/, '.ts');
    found.push({ from: file, to: target, typeOnly });
  }
  return found;
}

const files = sourceFiles(SRC).sort();
const imports = files.flatMap(importsOf);

/** Strongly connected components with more than one file (Tarjan), each as a sorted list. */
function cycles(nodes: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) as number, low.get(target) as number));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) as number, index.get(target) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (edges.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return found;
}

describe('core architecture', () => {
  it('finds the source files and their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.length).toBeGreaterThan(100);
    const missing = imports.filter((i) => !files.includes(i.to)).map((i) => `${i.from} → ${i.to}`);
    expect(missing).toEqual([]);
  });

  it('imports only go down the layers (errors → serialization, model → transport → virtual, messaging → topology → tasks)', () => {
    const upward = imports
      .filter((i) => layerOf(i.to) > layerOf(i.from))
      .map((i) => `${i.from} → ${i.to}${i.typeOnly ? ' (type)' : ''}`);
    expect(upward).toEqual([]);
  });

  it('keeps the topology planner off the virtual transport (both use the broker model)', () => {
    const planner = imports.filter((i) => i.from.startsWith('topology/') && i.to.startsWith('virtual/'));
    expect(planner.map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it('has no import cycle between files, type-only imports included', () => {
    const edges = new Map<string, string[]>();
    for (const i of imports) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to]);
    expect(cycles(files, edges).map((component) => component.join(' ⇄ '))).toEqual([]);
  });
});
