import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkTopology } from '../../src/topology/pipeline.js';

const here = dirname(fileURLToPath(import.meta.url));
const valid = join(here, '..', '..', '..', '..', 'schemas', 'examples', 'valid', 'routing-tests.yaml');
const failing = join(here, 'fixtures', 'failing-routing-tests.yaml');

describe('routing tests in a topology file', () => {
  it('pass on the valid example (topic, headers, exchange-to-exchange, alternate and default exchanges)', async () => {
    const checked = await checkTopology(valid);
    expect(checked.issues).toEqual([]);
    expect(checked.desired).toBeDefined();
  });

  it("fail at the case's line and column, naming what was reached instead", async () => {
    const checked = await checkTopology(failing);
    expect(checked.desired).toBeUndefined();
    expect(checked.errors.map((i) => `${i.line}:${i.column} ${i.path} ${i.keyword}: ${i.message}`)).toEqual([
      "13:5 /expect/0 routing-test: a message to 'tasks' with routing key 'video.encode.hd' reaches 'archive', but it must reach 'videos'",
      "15:5 /expect/1 routing-test: a message to 'tasks' with routing key 'video.encode' reaches 'archive', 'videos', but it must not reach 'archive'",
      "17:26 /expect/2/publish/exchange dangling-reference: routing test exchange 'task' is not declared",
      "20:18 /expect/3/notReaches/0 dangling-reference: routing test queue 'image' is not declared",
    ]);
  });
});
