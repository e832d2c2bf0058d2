/**
 * `wakame validate <file>`: JSON Schema and semantic rules, every problem at once with
 * `file:line:col`, the offending line and a caret. With `--url`, also checks the topology against
 * what that broker's transport can do.
 *
 * @module
 */
import { formatIssues } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { type BrokerOptions, check, openBroker, summary } from '../topology-input.js';

export async function validate(ctx: CommandContext, file: string, options: BrokerOptions): Promise<void> {
  const connection = options.url ? await openBroker(ctx, options) : undefined;
  try {
    const checked = await check(ctx, file, connection?.capabilities, connection?.transport.kind);
    const valid = checked.desired !== undefined;
    const message = `${file}: ${checked.errors.length} error(s)`;
    if (ctx.jsonMode) {
      ctx.json({
        ok: valid,
        valid,
        ...(valid ? {} : { error: { code: 'ERR_TOPOLOGY_VALIDATION', message } }),
        files: checked.files,
        errors: checked.errors,
        warnings: checked.warnings,
      });
    } else {
      if (checked.issues.length > 0) ctx.err(formatIssues(checked.issues));
      if (checked.desired) {
        // Routing tests (`expect:`) that failed are errors; reaching here, every one of them passed.
        const tests = checked.document?.expect?.length ?? 0;
        const passed = tests === 0 ? '' : `; ${tests} routing test${tests === 1 ? '' : 's'} passed`;
        const warnings = checked.warnings.length ? `; ${checked.warnings.length} warning(s)` : '';
        ctx.out(`✓ ${file} is valid: ${summary(checked.desired)}${passed}${warnings}`);
      }
    }
    if (!valid) throw new ExitError(1, ctx.jsonMode ? '' : message, { code: 'ERR_TOPOLOGY_VALIDATION' });
  } finally {
    await connection?.close();
  }
}
