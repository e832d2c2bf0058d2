/**
 * `wakame export`: the broker's live topology as a YAML topology file that, planned again,
 * shows no changes.
 *
 * Beside exchanges, queues and bindings it writes the broker's own entities where the transport
 * keeps them (RabbitMQ: vhosts, users without their passwords, permissions, policies). A broker
 * holds many that are nobody's business here, so the file takes a scope: with `--stack`, the
 * entities that stack owns; otherwise those of the connection's vhost (the vhost, its permissions
 * and topic permissions, the users they name, its policies and operator policies).
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  type BrokerEntities,
  brokerEntityKey,
  exportTopology,
  InvalidOperationError,
  readStackState,
  type TopologyAdmin,
  toYaml,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';

export interface ExportOptions extends BrokerOptions {
  readonly output?: string;
  /** Write only the broker entities this stack owns, and name the stack in the file. */
  readonly stack?: string;
}

export async function exportCommand(ctx: CommandContext, options: ExportOptions): Promise<void> {
  const connection = await openBroker(ctx, options);
  try {
    const observed = await connection.admin.inspect();
    if (!observed.complete) {
      throw new InvalidOperationError(
        `cannot list the topology of ${connection.url}: the management API did not answer (give its address with --management-url)`,
      );
    }
    const broker = await brokerInScope(connection.admin, options.stack);
    const document = {
      ...(options.stack ? { name: options.stack } : {}),
      ...exportTopology(observed, broker ?? {}),
    };
    if (ctx.jsonMode) {
      ctx.json(document);
      return;
    }
    const yaml = toYaml(document);
    if (options.output) {
      await writeFile(resolve(ctx.cwd, options.output), yaml);
      if (!ctx.quiet) ctx.err(`wrote ${options.output}`);
    } else {
      ctx.out(yaml.trimEnd());
    }
  } finally {
    await connection.close();
  }
}

/** The broker entities the export writes (see the module comment), or none where the transport keeps none. */
async function brokerInScope(
  admin: TopologyAdmin,
  stack: string | undefined,
): Promise<{ broker: BrokerEntities; vhost: string } | undefined> {
  if (!admin.broker) return undefined;
  const vhost = admin.broker.vhost;
  const all = await admin.broker.list();
  if (stack !== undefined) {
    const owned = new Set((await readStackState(admin, stack)).owned.broker ?? []);
    const keep = <K extends keyof BrokerEntities>(kind: K, tag: (spec: BrokerEntities[K][number]) => string) =>
      (all[kind] as readonly BrokerEntities[K][number][]).filter((spec) => owned.has(tag(spec)));
    return {
      vhost,
      broker: {
        vhosts: keep('vhosts', (spec) => brokerEntityKey({ kind: 'vhost', spec }, vhost)),
        users: keep('users', (spec) => brokerEntityKey({ kind: 'user', spec }, vhost)),
        permissions: keep('permissions', (spec) => brokerEntityKey({ kind: 'permission', spec }, vhost)),
        topicPermissions: keep('topicPermissions', (spec) =>
          brokerEntityKey({ kind: 'topic-permission', spec }, vhost),
        ),
        policies: keep('policies', (spec) =>
          brokerEntityKey({ kind: spec.operator ? 'operator-policy' : 'policy', spec }, vhost),
        ),
      },
    };
  }
  const permissions = all.permissions.filter((p) => p.vhost === vhost);
  const topicPermissions = all.topicPermissions.filter((p) => p.vhost === vhost);
  const named = new Set([...permissions, ...topicPermissions].map((p) => p.user));
  return {
    vhost,
    broker: {
      vhosts: all.vhosts.filter((v) => v.name === vhost),
      users: all.users.filter((u) => named.has(u.name)),
      permissions,
      topicPermissions,
      policies: all.policies.filter((p) => (p.vhost ?? vhost) === vhost),
    },
  };
}
